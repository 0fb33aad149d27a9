import pg from "pg";

/**
 * Session settings of every pooled connection.
 *
 * Sequential scans are off. Every statement sagad sends finds its rows by key or through an index,
 * and each hot one is a named statement whose generic plan Postgres keeps for the life of the
 * connection. A plan made while `sagas` was small scans it, and Postgres keeps using that plan as
 * the table grows, until an ANALYZE happens to invalidate it: a transition then read every saga
 * (0.57 ms at 13,000 sagas against 0.15 ms for the key probe, and growing with the table). The
 * same holds for the foreign-key checks Postgres runs on each event insert.
 *
 * JIT is off: it pays only on long analytic queries, which sagad never sends, and a statement
 * whose only plan is a (disabled, hence costed very high) scan would otherwise be compiled on
 * every run, ~24 ms each time.
 */
const SESSION_SETTINGS = "SET enable_seqscan = off; SET jit = off";

/** Options for {@link createPool}. */
export interface PoolOptions {
  /** Most connections this pool opens; default 20. */
  max?: number;
  /** Shown in `pg_stat_activity.application_name`, so operators can tell replicas apart. */
  applicationName?: string;
  /**
   * Called when an idle pooled connection fails (server restart, network cut). The pool already
   * discards that connection; this is for logging. Without a listener pg would crash the process.
   */
  onIdleError?: (err: Error) => void;
}

/**
 * Creates the one pool a sagad process uses. Idle-connection errors never crash the process (the
 * pool drops the broken connection and the next checkout opens a new one); checkout gives up after
 * 10 s instead of hanging forever while the database is unreachable; TCP keepalive notices dead
 * peers. No statement_timeout: long transactions are not expected, and a timeout would turn a slow
 * disk into spurious step failures. Each connection starts with {@link SESSION_SETTINGS}.
 */
export function createPool(databaseUrl: string, options: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.max ?? 20,
    application_name: options.applicationName ?? "sagad",
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    // Awaited before the connection serves its first statement; a failure fails that checkout.
    onConnect: async (client) => {
      await client.query(SESSION_SETTINGS);
    },
  });
  const onIdleError = options.onIdleError ?? (() => {});
  pool.on("error", (err) => onIdleError(err));
  return pool;
}

/**
 * SQLSTATEs after which the same work may succeed if simply retried: serialization failure,
 * deadlock, server shutdown/crash/startup, and connection exceptions (class 08). Everything else is
 * a bug or a constraint and must propagate. Classified by code only, never by message, as
 * graphile-worker does.
 */
const TRANSIENT_SQLSTATES: ReadonlySet<string> = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "08000", // connection_exception
  "08001", // sqlclient_unable_to_establish_sqlconnection
  "08003", // connection_does_not_exist
  "08004", // sqlserver_rejected_establishment_of_sqlconnection
  "08006", // connection_failure
]);

/** Socket-level codes node reports when the connection to Postgres is lost or refused. */
const CONNECTION_LOSS_CODES: ReadonlySet<string> = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE"]);

/**
 * True when `err` is a Postgres error worth retrying (see {@link TRANSIENT_SQLSTATES}) or the
 * connection was lost or refused. pg reports a connection closed mid-query with no code, only the
 * message "Connection terminated…", so that one message is matched too.
 */
export function isTransientPgError(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && (TRANSIENT_SQLSTATES.has(code) || CONNECTION_LOSS_CODES.has(code))) {
    return true;
  }
  const message = (err as { message?: unknown }).message;
  return typeof message === "string" && message.startsWith("Connection terminated");
}
