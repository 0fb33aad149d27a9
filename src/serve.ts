import type { Logger } from "pino";
import { CONSOLE_BASE, consoleIsBuilt } from "./api/console-files.js";
import { bootstrapNotice } from "./auth/issue-token.js";
import { CONFIG_HELP, loadConfig, type Config } from "./config.js";
import { createLogger } from "./logger.js";
import { build, type Server } from "./server.js";
import { EmbeddedPostgresError, startEmbeddedPostgres, type EmbeddedPostgres } from "./store/embedded-postgres.js";

/**
 * The server: parse configuration once, start (embedded Postgres when no DATABASE_URL), and stop
 * gracefully on SIGTERM/SIGINT. Sets the exit code: 0 clean stop, 1 failed to start or to stop,
 * 2 bad configuration.
 */
export async function serve(argv: readonly string[]): Promise<void> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`Usage: sagad [flags]              run the server\n       sagad def|saga|step|token ...  the operator CLI (sagad help)\n\n${CONFIG_HELP}\n`);
    return;
  }
  let config: Config;
  try {
    config = loadConfig(process.env, [...argv]);
  } catch (err) {
    process.stderr.write(`sagad: ${(err as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const logger = createLogger({ level: config.logLevel, format: config.logFormat, replicaId: config.replicaId, isTty: process.stderr.isTTY === true });
  let embedded: EmbeddedPostgres | null = null;
  let server: Server | null = null;
  try {
    let databaseUrl = config.databaseUrl;
    if (databaseUrl === undefined) {
      embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, rootPostgresDir: config.rootPostgresDir, log: (msg) => logger.debug(msg) });
      databaseUrl = embedded.databaseUrl;
      logger.info({ data_dir: config.dataDir, cluster: embedded.pgdata, database_url: redactPassword(databaseUrl) }, "started embedded PostgreSQL");
    }
    server = await build({
      databaseUrl,
      host: config.host,
      port: config.port,
      replicaId: config.replicaId,
      leaseTtlMs: config.leaseTtlMs,
      pollIntervalMs: config.pollIntervalMs,
      limits: { maxSteps: config.maxSteps, maxConfigBytes: config.maxConfigBytes, maxJsonDepth: 32 },
      maxRequestBytes: config.maxRequestBytes,
      shutdownGraceMs: config.shutdownGraceMs,
      maxConcurrentSteps: config.maxConcurrentSteps,
      metricsPort: config.metricsPort,
      corsOrigins: config.corsOrigins,
      breaker: { failures: config.breakerFailures, openMs: config.breakerOpenMs },
      retentionDays: config.retentionDays,
      workers: { heartbeatIntervalMs: config.workerHeartbeatMs, ackTimeoutMs: config.workerAckTimeoutMs, maxRequeues: config.workerMaxRequeues },
      logger,
      // Embedded means a developer's machine: hand them a working admin token (see README).
      bootstrapAdminToken: embedded !== null,
    });
    if (server.bootstrapToken) process.stdout.write(bootstrapNotice(server.bootstrapToken));
    // One write: a supervisor that waits for the "listening" line then finds the console's line too.
    const consoleLine = consoleIsBuilt()
      ? `web console: ${server.url}${CONSOLE_BASE} (sign in with an API token)\n`
      : "web console: not built in this checkout (run `npm run build:console`)\n";
    process.stdout.write(`sagad listening on ${server.url} (replica ${config.replicaId})\n${consoleLine}`);
    if (server.metricsPort !== undefined) process.stdout.write(`sagad metrics on port ${server.metricsPort} (GET /metrics)\n`);
  } catch (err) {
    // The embedded database's failures are the environment's (permissions, disk, a second sagad):
    // its message says what to do, and a stack trace would only bury it.
    if (err instanceof EmbeddedPostgresError) {
      process.stderr.write(`sagad: ${err.message}\n`);
    } else {
      logger.fatal({ err }, "sagad failed to start");
      process.stderr.write(`sagad: failed to start: ${(err as Error).message}\n`);
    }
    await embedded?.stop().catch(() => undefined);
    process.exitCode = 1;
    return;
  }
  await waitForSignal(logger);
  try {
    await server.close();
    await embedded?.stop();
    logger.info("sagad stopped");
  } catch (err) {
    logger.error({ err }, "unclean shutdown");
    process.exitCode = 1;
  }
}

function redactPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}

/**
 * A repeat of the first signal within this time is the same request: a terminal's Ctrl-C reaches
 * every process of the foreground group, so under `npm start` sagad gets the SIGINT from the
 * terminal and again from npm, which forwards it to its child.
 */
const REPEATED_SIGNAL_MS = 500;

/** Resolves on the first SIGTERM/SIGINT; a second one (not a repeat of the first) exits at once. */
function waitForSignal(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, "shutting down");
      process.stdout.write(`sagad: ${signal}, shutting down\n`);
      const first = { signal, at: Date.now() };
      const onSecond = (second: NodeJS.Signals) => {
        if (second === first.signal && Date.now() - first.at < REPEATED_SIGNAL_MS) return;
        process.exit(second === "SIGINT" ? 130 : 143);
      };
      process.on("SIGINT", onSecond);
      process.on("SIGTERM", onSecond);
      resolve();
    };
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
  });
}

