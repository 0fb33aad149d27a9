import { setMaxListeners } from "node:events";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type pg from "pg";
import { pino, type Logger } from "pino";
import type { Action } from "./actions/action.js";
import { createDefaultRegistry, type ActionRegistry } from "./actions/registry.js";
import { errorInterceptor } from "./api/error-interceptor.js";
import { listen } from "./api/http-server.js";
import { routes } from "./api/routes.js";
import { systemClock, type Clock } from "./domain/clock.js";
import type { ValidationLimits } from "./domain/validate-saga.js";
import { Engine } from "./engine/engine.js";
import { EventBus } from "./engine/event-bus.js";
import { NotificationListener } from "./engine/notification-listener.js";
import { migrate } from "./store/migrate.js";
import { createPool } from "./store/pool.js";
import { SagaStore } from "./store/saga-store.js";

/** For embedders: the action contract, so their own actions can run next to the built-ins. */
export { ActionError, type Action, type ActionContext } from "./actions/action.js";

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
}

export interface Server {
  /** The port actually bound. */
  port: number;
  url: string;
  engine: Engine;
  bus: EventBus;
  pool: pg.Pool;
  registry: ActionRegistry;
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
  });
  const listener = new NotificationListener(
    options.databaseUrl,
    logger,
    (id, sequence) => {
      if (!engine.onNotification(id, sequence)) bus.publish(id, sequence);
    },
    () => {
      bus.wakeAll();
      engine.refreshAll();
    },
  );
  const shutdown = new AbortController();
  setMaxListeners(0, shutdown.signal); // one listener per open WatchSaga stream
  let http: Awaited<ReturnType<typeof listen>>;
  try {
    await listener.start();
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
      }),
      interceptors: [errorInterceptor(logger)],
      readMaxBytes: options.maxRequestBytes,
    });
    http = await listen(handler, { host: options.host, port: options.port, maxRequestBytes: options.maxRequestBytes });
  } catch (err) {
    // A failed start (port taken, database gone) must not leave connections keeping the process alive.
    await listener.close();
    await pool.end();
    throw err;
  }
  engine.start();
  const url = `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${http.port}`;
  logger.info({ url }, "sagad listening");

  let closing: Promise<void> | null = null;
  return {
    port: http.port,
    url,
    engine,
    bus,
    pool,
    registry,
    close() {
      closing ??= (async () => {
        shutdown.abort();
        await engine.stop(options.shutdownGraceMs);
        await http.close(1_000);
        await engine.settled();
        await listener.close();
        await pool.end();
      })();
      return closing;
    },
  };
}
