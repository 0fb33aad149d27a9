import { setMaxListeners } from "node:events";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type pg from "pg";
import { pino, type Logger } from "pino";
import type { Action } from "./actions/action.js";
import { createDefaultRegistry, type ActionRegistry } from "./actions/registry.js";
import { authInterceptor } from "./api/auth-interceptor.js";
import { errorInterceptor } from "./api/error-interceptor.js";
import { withCors } from "./api/cors.js";
import { withConsole } from "./api/console-files.js";
import { metricsOnly, withHttpEndpoints } from "./api/http-endpoints.js";
import { listen } from "./api/http-server.js";
import { Metrics } from "./api/metrics.js";
import { WorkerMetrics } from "./api/worker-metrics.js";
import { ServedActions } from "./api/served-actions.js";
import { routes } from "./api/routes.js";
import { DefinitionCatalog } from "./api/definition-catalog.js";
import { DefinitionStore } from "./store/definition-store.js";
import { rpcInterceptor } from "./api/rpc-interceptor.js";
import { issueBootstrapToken, type IssuedToken } from "./auth/issue-token.js";
import { TokenCache } from "./auth/token-cache.js";
import { systemClock, type Clock } from "./domain/clock.js";
import { ACTION_NAME_PATTERN } from "./domain/names.js";
import type { ValidationLimits } from "./domain/validate-saga.js";
import { DEFAULT_BREAKER_SETTINGS, type BreakerSettings, type CircuitBreakers } from "./engine/circuit-breakers.js";
import { Engine } from "./engine/engine.js";
import { EventBus } from "./engine/event-bus.js";
import { HealthMonitor } from "./engine/health-monitor.js";
import { NotificationListener, sagaEventsHandler } from "./engine/notification-listener.js";
import { RetentionSweeper } from "./engine/retention-sweeper.js";
import { DatabaseProbe } from "./store/database-probe.js";
import { migrate } from "./store/migrate.js";
import { createPool } from "./store/pool.js";
import { deleteOldSagas } from "./store/retention.js";
import { SagaStore } from "./store/saga-store.js";
import { loadActiveTokens, TOKENS_CHANNEL } from "./store/token-store.js";
import { TaskStore } from "./store/task-store.js";
import { WorkerSessionStore } from "./store/worker-session-store.js";
import { TaskSweeper } from "./engine/task-sweeper.js";
import { TaskDispatcher } from "./workers/task-dispatcher.js";
import { TaskTokens } from "./workers/task-token.js";
import { DEFAULT_WORKER_SETTINGS, type WorkerSettings } from "./workers/worker-settings.js";

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
  /** Timing of the worker protocol (heartbeats, ack timeout, polls); defaults suit production. */
  workers?: Partial<WorkerSettings>;
  clock?: Clock;
  random?: () => number;
  /**
   * Create an admin token (`bootstrap-admin`) if no active token exists, returned once as
   * {@link Server.bootstrapToken}. main.ts sets it for the embedded database only (see README,
   * "Tokens and scopes").
   */
  bootstrapAdminToken?: boolean;
  /** Backstop reload of the token cache; NOTIFY makes changes visible sooner. Default 5,000 ms. */
  tokenReloadMs?: number;
  /** Also serve GET /metrics (only that) on this port, on {@link host}; 0 picks a free one. */
  metricsPort?: number;
  /** Origins whose web pages may call sagad (see api/cors.ts); default none. */
  corsOrigins?: readonly string[];
  /** Circuit breakers: consecutive failures that open one (0: none) and its open time; default 5 / 10,000 ms. */
  breaker?: BreakerSettings;
  /**
   * Delete COMPLETED, COMPENSATED and CANCELLED sagas that finished more than this many days ago
   * (see engine/retention-sweeper.ts); 0 or unset keeps every saga.
   */
  retentionDays?: number;
  /** Where the web console's built files are (default: dist/console of this package). */
  consoleDir?: string;
}

export interface Server {
  /** The port actually bound. */
  port: number;
  url: string;
  engine: Engine;
  bus: EventBus;
  pool: pg.Pool;
  registry: ActionRegistry;
  /** This replica's active API tokens. */
  tokens: TokenCache;
  /** The admin token created at this start (see {@link ServerOptions.bootstrapAdminToken}); shown once. */
  bootstrapToken: IssuedToken | null;
  metrics: Metrics;
  health: HealthMonitor;
  /** The port bound for GET /metrics alone, when {@link ServerOptions.metricsPort} was set. */
  metricsPort: number | undefined;
  /** This replica's circuit breakers; `list()` is what ListCircuits and the metrics show. */
  circuits: CircuitBreakers;
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
  const tokens = new TokenCache({ load: () => loadActiveTokens(pool), logger, reloadIntervalMs: options.tokenReloadMs });
  let bootstrapToken: IssuedToken | null = null;
  try {
    await migrate(pool, { log: (msg) => logger.info(msg) });
    await tokens.start();
    // After the first load, so a failing load cannot swallow a secret that was never shown.
    if (options.bootstrapAdminToken) bootstrapToken = await issueBootstrapToken(pool);
    if (bootstrapToken) await tokens.reload();
  } catch (err) {
    tokens.stop();
    await pool.end();
    throw err;
  }
  if (tokens.size === 0) {
    logger.warn("no API tokens exist, so every RPC but health and reflection is refused; create one with: sagad token create --name NAME --scope admin");
  }
  const store = new SagaStore(pool);
  const bus = new EventBus();
  const registry = createDefaultRegistry(options.actions ?? [], { extraHeaders: { "X-Sagad-Replica": options.replicaId } });
  const definitions = new DefinitionStore(pool);
  const acceptsAction = (name: string) => registry.has(name) || ACTION_NAME_PATTERN.test(name);
  const catalog = new DefinitionCatalog(definitions, options.limits, acceptsAction);
  const metrics: Metrics = new Metrics({
    leasesHeld: (): number => engine.activeSagaCount(),
    circuits: () => engine.circuits.list(),
  });
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
    breaker: options.breaker ?? DEFAULT_BREAKER_SETTINGS,
  });
  const listener = new NotificationListener(
    options.databaseUrl,
    logger,
    [
      sagaEventsHandler((id, sequence) => {
        if (!engine.onNotification(id, sequence)) bus.publish(id, sequence);
        dispatcher.sagaChanged(id, sequence);
      }),
      { channel: TOKENS_CHANNEL, onPayload: () => void tokens.reload() },
    ],
    () => {
      bus.wakeAll();
      engine.refreshAll();
      void tokens.reload();
    },
  );
  const workerSettings: WorkerSettings = { ...DEFAULT_WORKER_SETTINGS, ...options.workers };
  const taskStore = new TaskStore(pool);
  const sessionStore = new WorkerSessionStore(pool);
  const taskTokens = new TaskTokens(await sessionStore.tokenKey());
  const workerMetrics: WorkerMetrics = new WorkerMetrics(metrics.registry, {
    connected: (): number => dispatcher.connectedCount(),
    queueDepth: () => taskStore.queueDepth(),
  });
  const dispatcher: TaskDispatcher = new TaskDispatcher({ engine, sagas: store, tasks: taskStore, sessions: sessionStore, tokens: taskTokens, settings: workerSettings, clock, logger, observer: workerMetrics });
  engine.setTaskListener(dispatcher);
  const sweeper = new TaskSweeper({
    engine,
    tasks: taskStore,
    sessions: sessionStore,
    clock,
    logger,
    intervalMs: workerSettings.sweepMs,
    maxRequeues: workerSettings.maxRequeues,
    // Two beats missed: a task acked between a heartbeat's build and its arrival is listed by the next.
    unlistedMs: 2 * workerSettings.heartbeatIntervalMs,
    onRequeued: (rows, why) => dispatcher.requeued(rows, why),
  });
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
        definitions,
        catalog,
        acceptsAction,
        now: () => clock.now(),
        limits: options.limits,
        logger,
        shutdownSignal: shutdown.signal,
        health,
        tasks: taskStore,
        servedActions: new ServedActions(sessionStore, engine.isWorkerAction, () => clock.now()),
        workers: {
          engine,
          tasks: taskStore,
          sessions: sessionStore,
          dispatcher,
          tokens: taskTokens,
          settings: workerSettings,
          clock,
          logger,
          replicaId: options.replicaId,
          maxOutputBytes: options.limits.maxConfigBytes,
          maxJsonDepth: options.limits.maxJsonDepth,
          shutdownSignal: shutdown.signal,
          observer: workerMetrics,
        },
      }),
      // Outermost first: the RPC interceptor logs and counts every call, refused ones too; the error
      // interceptor turns the auth interceptor's domain errors into Connect codes.
      interceptors: [rpcInterceptor(logger, metrics), errorInterceptor(logger), authInterceptor(tokens, logger)],
      readMaxBytes: options.maxRequestBytes,
    });
    http = await listen(withCors(withHttpEndpoints(withConsole(handler, options.consoleDir), { metrics, health }), options.corsOrigins ?? []), { host: options.host, port: options.port, maxRequestBytes: options.maxRequestBytes });
    if (options.metricsPort !== undefined) {
      metricsHttp = await listen(metricsOnly(metrics), { host: options.host, port: options.metricsPort }).catch(async (err: unknown) => {
        await http.close(0);
        throw err;
      });
    }
  } catch (err) {
    // A failed start (port taken, database gone) must not leave connections keeping the process alive.
    tokens.stop();
    await health.stop();
    await listener.close();
    await pool.end();
    throw err;
  }
  engine.start();
  dispatcher.start();
  sweeper.start();
  const retention = options.retentionDays
    ? new RetentionSweeper({
        retentionDays: options.retentionDays,
        deleteBatch: (cutoff, limit) => deleteOldSagas(pool, cutoff, limit),
        now: () => clock.now(),
        logger,
        onDeleted: (count) => metrics.retentionDeleted(count),
      })
    : null;
  retention?.start();
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
    tokens,
    bootstrapToken,
    metrics,
    health,
    metricsPort: metricsHttp?.port,
    circuits: engine.circuits,
    close() {
      closing ??= (async () => {
        health.drain(); // before the shutdown signal, so health watchers hear NOT_SERVING first
        shutdown.abort();
        await retention?.stop(); // at most one short batch in flight
        await sweeper.stop();
        await dispatcher.stop();
        await engine.stop(options.shutdownGraceMs);
        await http.close(1_000);
        await metricsHttp?.close(1_000);
        await engine.settled();
        tokens.stop();
        await health.stop();
        await listener.close();
        await pool.end();
      })();
      return closing;
    },
  };
}
