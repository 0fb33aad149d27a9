import { setMaxListeners } from "node:events";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type pg from "pg";
import { pino, type Logger } from "pino";
import type { Action } from "./actions/action.js";
import { createDefaultRegistry, type ActionRegistry } from "./actions/registry.js";
import { errorInterceptor } from "./api/error-interceptor.js";
import { metricsOnly, withHttpEndpoints } from "./api/http-endpoints.js";
import { listen } from "./api/http-server.js";
import { Metrics } from "./api/metrics.js";
import { routes } from "./api/routes.js";
import { rpcInterceptor } from "./api/rpc-interceptor.js";
import { systemClock, type Clock } from "./domain/clock.js";
import type { ValidationLimits } from "./domain/validate-saga.js";
import { Engine } from "./engine/engine.js";
import { EventBus } from "./engine/event-bus.js";
import { HealthMonitor } from "./engine/health-monitor.js";
import { NotificationListener } from "./engine/notification-listener.js";
import { DatabaseProbe } from "./store/database-probe.js";
import { migrate } from "./store/migrate.js";
import { createPool } from "./store/pool.js";
import { SagaStore } from "./store/saga-store.js";

/** For embedders: the action contract, so their own actions can run next to the built-ins. */
export { ActionError, type Action, type ActionContext } from "./actions/action.js";

/** How often readiness re-checks the database, and how long one check may take. */
const HEALTH_PROBE_INTERVAL_MS = 1_000;
const HEALTH_PROBE_TIMEOUT_MS = 1_000;

/** Everything a sagad instance needs; main.ts derives it from the environment, tests build it. */
export interface ServerOptions {
  databaseUrl: string;
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  replicaId: string;
  leaseTtlMs: number;
  pollIntervalMs: number;
  limits: ValidationLimits;
  maxRequestBytes: number;
  shutdownGraceMs: number;
  /** Most actions running at once on this replica; default 1,000. */
  maxConcurrentSteps?: number;
  poolSize?: number;
  logger?: Logger;
  /** Extra actions for embedders and tests, registered next to the built-ins. */
  actions?: Action[];
  clock?: Clock;
  random?: () => number;
  /** Also serve GET /metrics (only that) on this port, on {@link host}; 0 picks a free one. */
  metricsPort?: number;
}

export interface Server {
  /** The port actually bound. */
  port: number;
  url: string;
  engine: Engine;
  bus: EventBus;
  pool: pg.Pool;
  registry: ActionRegistry;
  metrics: Metrics;
  health: HealthMonitor;
  /** The port bound for GET /metrics alone, when {@link ServerOptions.metricsPort} was set. */
  metricsPort: number | undefined;
  /** Graceful stop: drain, release leases, end streams with UNAVAILABLE, close the pool. */
  close(): Promise<void>;
}

/**
 * The composition root: pool → migrations → store → engine → routes → one-port HTTP server.
 * Nothing else constructs these pieces, so what runs in production is what the tests start.
 */
export async function build(options: ServerOptions): Promise<Server> {
  const logger = options.logger ?? pino({ level: "silent" });
  const clock = options.clock ?? systemClock;
  const pool = createPool(options.databaseUrl, {
    max: options.poolSize ?? 20,
    applicationName: `sagad ${options.replicaId}`.slice(0, 63),
    onIdleError: (err) => logger.warn({ err }, "idle database connection failed"),
  });
  try {
    await migrate(pool, { log: (msg) => logger.info(msg) });
  } catch (err) {
    await pool.end();
    throw err;
  }
  const store = new SagaStore(pool);
  const bus = new EventBus();
  const registry = createDefaultRegistry(options.actions ?? [], { extraHeaders: { "X-Sagad-Replica": options.replicaId } });
  // TODO(breakers): pass the breakers' states once they exist; until then no circuit is reported.
  const metrics: Metrics = new Metrics({ leasesHeld: (): number => engine.activeSagaCount(), circuits: () => [] });
  const health = new HealthMonitor({ probe: new DatabaseProbe(options.databaseUrl, HEALTH_PROBE_TIMEOUT_MS), intervalMs: HEALTH_PROBE_INTERVAL_MS, logger });
  health.markMigrated();
  const engine = new Engine({
    store,
    bus,
    registry,
    clock,
    logger,
    replicaId: options.replicaId,
    leaseTtlMs: options.leaseTtlMs,
    pollIntervalMs: options.pollIntervalMs,
    maxConcurrentSteps: options.maxConcurrentSteps ?? 1000,
    random: options.random,
    observer: metrics,
  });
  const listener = new NotificationListener(
    options.databaseUrl,
    logger,
    (id, sequence) => {
      bus.publish(id, sequence);
      engine.onNotification(id, sequence);
    },
    () => {
      bus.wakeAll();
      engine.refreshAll();
    },
  );
  const shutdown = new AbortController();
  setMaxListeners(0, shutdown.signal); // one listener per open WatchSaga stream
  let http: Awaited<ReturnType<typeof listen>>;
  let metricsHttp: Awaited<ReturnType<typeof listen>> | undefined;
  try {
    await listener.start();
    await health.start();
    const handler = connectNodeAdapter({
      routes: routes({
        engine,
        store,
        pool,
        bus,
        registry,
        limits: options.limits,
        logger,
        shutdownSignal: shutdown.signal,
        health,
      }),
      // The RPC interceptor first, so it is outermost: it logs and counts calls the others refuse.
      interceptors: [rpcInterceptor(logger, metrics), errorInterceptor(logger)],
      readMaxBytes: options.maxRequestBytes,
    });
    http = await listen(withHttpEndpoints(handler, { metrics, health }), { host: options.host, port: options.port, maxRequestBytes: options.maxRequestBytes });
    if (options.metricsPort !== undefined) {
      metricsHttp = await listen(metricsOnly(metrics), { host: options.host, port: options.metricsPort }).catch(async (err: unknown) => {
        await http.close(0);
        throw err;
      });
    }
  } catch (err) {
    // A failed start (port taken, database gone) must not leave connections keeping the process alive.
    await health.stop();
    await listener.close();
    await pool.end();
    throw err;
  }
  engine.start();
  const url = `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${http.port}`;
  logger.info({ url, metrics_port: metricsHttp?.port }, "sagad listening");

  let closing: Promise<void> | null = null;
  return {
    port: http.port,
    url,
    engine,
    bus,
    pool,
    registry,
    metrics,
    health,
    metricsPort: metricsHttp?.port,
    close() {
      closing ??= (async () => {
        health.drain(); // before the shutdown signal, so health watchers hear NOT_SERVING first
        shutdown.abort();
        await engine.stop(options.shutdownGraceMs);
        await http.close(1_000);
        await metricsHttp?.close(1_000);
        await engine.settled();
        await health.stop();
        await listener.close();
        await pool.end();
      })();
      return closing;
    },
  };
}
