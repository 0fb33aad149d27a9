import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import path from "node:path";

/** Log levels pino knows; `silent` turns logging off. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Everything sagad is told at start, parsed and validated once; frozen. */
export interface Config {
  /** Address to listen on; loopback unless the operator chooses to expose sagad. */
  readonly host: string;
  /** Port serving gRPC, gRPC-Web and Connect; 0 picks a free one. */
  readonly port: number;
  /** Postgres to use; undefined means start the embedded one in {@link dataDir}. */
  readonly databaseUrl: string | undefined;
  /** Absolute path of the embedded Postgres's directory (unused with {@link databaseUrl}). */
  readonly dataDir: string;
  /** As root: where the embedded Postgres's programs and cluster go when its user cannot reach them. */
  readonly rootPostgresDir: string;
  /** Origins whose browser pages may call sagad (CORS); empty: none; `["*"]`: any. */
  readonly corsOrigins: readonly string[];
  /** Names this replica in leases and logs; unique per running process. */
  readonly replicaId: string;
  /** How long a claimed saga stays ours without renewal; another replica may take it after. */
  readonly leaseTtlMs: number;
  /** Backstop poll for sagas whose lease expired or was released; the fast path does not wait for it. */
  readonly pollIntervalMs: number;
  /** Most steps one saga may have. */
  readonly maxSteps: number;
  /** Largest serialized step config accepted, in bytes. */
  readonly maxConfigBytes: number;
  /** Largest request body accepted, in bytes. */
  readonly maxRequestBytes: number;
  /** Most actions this replica runs at once, across all sagas. */
  readonly maxConcurrentSteps: number;
  /** How long shutdown waits for running steps and open streams before cutting them off. */
  readonly shutdownGraceMs: number;
  readonly logLevel: LogLevel;
  /** `auto` is pretty on a terminal and JSON otherwise. */
  readonly logFormat: LogFormat;
  /** Serve GET /metrics on this port too (on {@link host}); undefined: only on the main port. */
  readonly metricsPort: number | undefined;
  /** Consecutive failed calls of an action (per host for http) that open its breaker; 0 disables breakers. */
  readonly breakerFailures: number;
  /** How long an open breaker waits before it lets one probe call through. */
  readonly breakerOpenMs: number;
  /**
   * Delete COMPLETED, COMPENSATED and CANCELLED sagas that finished more than this many days ago;
   * 0 (the default) keeps every saga. FAILED and COMPENSATION_FAILED are never deleted by it.
   */
  readonly retentionDays: number;
  /** How often workers heartbeat; a session lives 3 × this past its last heartbeat. */
  readonly workerHeartbeatMs: number;
  /** An offer to a worker not acknowledged this soon is offered again. */
  readonly workerAckTimeoutMs: number;
  /** Requeues of one attempt after lost workers, before the step fails with WORKER_LOST. */
  readonly workerMaxRequeues: number;
}

/** How log lines are written. */
export const LOG_FORMATS = ["auto", "json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

interface Setting {
  readonly flag: string;
  readonly env: string;
  readonly arg: string;
  readonly help: string;
  /** Parsed like a user-supplied value, so the help text and the behaviour cannot drift apart. */
  readonly default?: string;
  /** Shown instead of {@link default} where the default is computed. */
  readonly defaultHelp?: string;
}

const SETTINGS = {
  port: {
    flag: "--port", env: "SAGAD_PORT", arg: "<port>", default: "8080",
    help: "port for gRPC, gRPC-Web and Connect (0: any free port)",
  },
  host: {
    flag: "--host", env: "SAGAD_HOST", arg: "<addr>", default: "127.0.0.1",
    help: "address to listen on; 0.0.0.0 exposes sagad to the network",
  },
  databaseUrl: {
    flag: "--database-url", env: "DATABASE_URL", arg: "<url>", defaultHelp: "unset: embedded PostgreSQL",
    help: "PostgreSQL connection string (postgres://user:pass@host:port/db)",
  },
  dataDir: {
    flag: "--data-dir", env: "SAGAD_DATA_DIR", arg: "<dir>", default: "./.sagad",
    help: "directory of the embedded PostgreSQL (used without a database URL)",
  },
  rootPostgresDir: {
    flag: "--root-postgres-dir", env: "SAGAD_ROOT_POSTGRES_DIR", arg: "<dir>", default: "/var/lib/sagad",
    help: "as root only: where the embedded PostgreSQL's programs and cluster go when the postgres user cannot enter node_modules or the data dir",
  },
  replicaId: {
    flag: "--replica-id", env: "SAGAD_REPLICA_ID", arg: "<id>", defaultHelp: "default <hostname>-<pid>-<4 hex>",
    help: "name of this replica in leases and logs; must be unique",
  },
  leaseTtlMs: {
    flag: "--lease-ttl-ms", env: "SAGAD_LEASE_TTL_MS", arg: "<ms>", default: "15000",
    help: "saga lease lifetime; renewed every third of it",
  },
  pollIntervalMs: {
    flag: "--poll-interval-ms", env: "SAGAD_POLL_INTERVAL_MS", arg: "<ms>", default: "1000",
    help: "backstop poll for sagas whose lease expired or was released",
  },
  maxSteps: {
    flag: "--max-steps", env: "SAGAD_MAX_STEPS", arg: "<n>", default: "1000",
    help: "most steps in one saga",
  },
  maxConfigBytes: {
    flag: "--max-config-bytes", env: "SAGAD_MAX_CONFIG_BYTES", arg: "<n>", default: "262144",
    help: "largest step config, in bytes",
  },
  maxRequestBytes: {
    flag: "--max-request-bytes", env: "SAGAD_MAX_REQUEST_BYTES", arg: "<n>", default: "33554432",
    help: "largest request body, in bytes",
  },
  maxConcurrentSteps: {
    flag: "--max-concurrent-steps", env: "SAGAD_MAX_CONCURRENT_STEPS", arg: "<n>", default: "1000",
    help: "most actions running at once in this replica",
  },
  shutdownGraceMs: {
    flag: "--shutdown-grace-ms", env: "SAGAD_SHUTDOWN_GRACE_MS", arg: "<ms>", default: "10000",
    help: "how long shutdown waits for running steps and streams",
  },
  logLevel: {
    flag: "--log-level", env: "SAGAD_LOG_LEVEL", arg: "<level>", default: "info",
    help: LOG_LEVELS.join(", "),
  },
  logFormat: {
    flag: "--log-format", env: "SAGAD_LOG_FORMAT", arg: "<format>", default: "auto",
    help: "auto (pretty on a terminal, JSON otherwise), json or pretty",
  },
  metricsPort: {
    flag: "--metrics-port", env: "SAGAD_METRICS_PORT", arg: "<port>", defaultHelp: "unset: only on --port",
    help: "also serve GET /metrics on this port, e.g. to keep it off the API's network",
  },
  breakerFailures: {
    flag: "--breaker-failures", env: "SAGAD_BREAKER_FAILURES", arg: "<n>", default: "5",
    help: "consecutive failed calls that open an action's circuit breaker (0: no breakers)",
  },
  breakerOpenMs: {
    flag: "--breaker-open-ms", env: "SAGAD_BREAKER_OPEN_MS", arg: "<ms>", default: "10000",
    help: "how long an open breaker waits before it lets one probe call through",
  },
  corsOrigins: {
    flag: "--cors-origins", env: "SAGAD_CORS_ORIGINS", arg: "<origins>", defaultHelp: "unset: no other origin",
    help: "comma list of exact origins (https://app.example.com) whose web pages may call sagad; * for any",
  },
  retentionDays: {
    flag: "--retention-days", env: "SAGAD_RETENTION_DAYS", arg: "<days>", default: "0",
    help: "delete COMPLETED, COMPENSATED and CANCELLED sagas that finished more than this many days ago (0: keep every saga); FAILED and COMPENSATION_FAILED are never deleted",
  },
  workerHeartbeatMs: {
    flag: "--worker-heartbeat-ms", env: "SAGAD_WORKER_HEARTBEAT_MS", arg: "<ms>", default: "5000",
    help: "how often workers heartbeat; a worker silent for 3 × this loses its tasks to others (same attempt)",
  },
  workerAckTimeoutMs: {
    flag: "--worker-ack-timeout-ms", env: "SAGAD_WORKER_ACK_TIMEOUT_MS", arg: "<ms>", default: "10000",
    help: "an offer to a worker not acknowledged this soon is offered again, without using an attempt",
  },
  workerMaxRequeues: {
    flag: "--worker-max-requeues", env: "SAGAD_WORKER_MAX_REQUEUES", arg: "<n>", default: "3",
    help: "times one attempt is offered again after its worker was lost, before the step fails with WORKER_LOST",
  },
} as const satisfies Record<string, Setting>;

type Key = keyof typeof SETTINGS;

/** Every flag and environment variable with its default, for `--help` and the README. */
export const CONFIG_HELP: string = [
  "Options (a flag beats its environment variable; an empty variable counts as unset):",
  ...Object.values(SETTINGS).map((s: Setting) => {
    const fallback = s.default !== undefined ? `default ${s.default}` : s.defaultHelp;
    return `  ${s.flag} ${s.arg}, ${s.env} (${fallback})\n      ${s.help}`;
  }),
].join("\n");

/** A raw value and the name (flag or environment variable) it came from, for error messages. */
interface Raw {
  readonly value: string;
  readonly name: string;
}

/**
 * Reads flags (`--port 8080` or `--port=8080`; `argv` without node and script, i.e.
 * `process.argv.slice(2)`) and environment variables; a flag beats its variable and an empty
 * variable counts as unset. Throws an Error naming the offending flag or variable on anything
 * invalid or unknown, so sagad never starts half-configured. `--help` is main.ts's business and
 * is rejected here like any unknown flag.
 */
export function loadConfig(env: NodeJS.ProcessEnv, argv: readonly string[]): Config {
  const flags = parseFlags(argv);
  const read = (key: Key): Raw | undefined => {
    const setting: Setting = SETTINGS[key];
    const flag = flags.get(setting.flag);
    if (flag !== undefined) return { value: flag, name: setting.flag };
    const value = env[setting.env];
    if (value !== undefined && value !== "") return { value, name: setting.env };
    return setting.default === undefined ? undefined : { value: setting.default, name: setting.env };
  };
  const int = (key: Key, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = read(key) as Raw;
    const value = /^\d+$/.test(raw.value) ? Number(raw.value) : Number.NaN;
    if (!(value >= min && value <= max)) {
      const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
      throw new Error(`${raw.name} must be an integer ${range}, got "${raw.value}"`);
    }
    return value;
  };

  const leaseTtlMs = int("leaseTtlMs", 300);
  return Object.freeze({
    host: text(read("host") as Raw),
    port: int("port", 0, 65535),
    databaseUrl: databaseUrl(read("databaseUrl")),
    dataDir: path.resolve(text(read("dataDir") as Raw)),
    rootPostgresDir: path.resolve(text(read("rootPostgresDir") as Raw)),
    corsOrigins: corsOrigins(read("corsOrigins")),
    replicaId: replicaId(read("replicaId")) ?? `${hostname()}-${process.pid}-${randomBytes(2).toString("hex")}`,
    leaseTtlMs,
    pollIntervalMs: int("pollIntervalMs", 10),
    maxSteps: int("maxSteps", 1),
    maxConfigBytes: int("maxConfigBytes", 2),
    maxRequestBytes: int("maxRequestBytes", 1024),
    maxConcurrentSteps: int("maxConcurrentSteps", 1),
    shutdownGraceMs: int("shutdownGraceMs", 0),
    logLevel: logLevel(read("logLevel") as Raw),
    logFormat: oneOf(read("logFormat") as Raw, LOG_FORMATS),
    metricsPort: read("metricsPort") === undefined ? undefined : int("metricsPort", 0, 65535),
    breakerFailures: int("breakerFailures", 0),
    breakerOpenMs: int("breakerOpenMs", 10),
    // At most 100 years, so the cutoff is always a date Postgres and JavaScript can both hold.
    retentionDays: int("retentionDays", 0, MAX_RETENTION_DAYS),
    workerHeartbeatMs: int("workerHeartbeatMs", 100, 600_000),
    workerAckTimeoutMs: int("workerAckTimeoutMs", 100, 600_000),
    workerMaxRequeues: int("workerMaxRequeues", 0, 100),
  });
}

const MAX_RETENTION_DAYS = 36_500;

const FLAGS: ReadonlySet<string> = new Set(Object.values(SETTINGS).map((s) => s.flag));

function parseFlags(argv: readonly string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg : arg.slice(0, eq);
    if (!FLAGS.has(name)) {
      throw new Error(arg.startsWith("-") ? `unknown flag ${name}` : `unexpected argument "${arg}"`);
    }
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new Error(`${name} needs a value`);
    flags.set(name, value);
  }
  return flags;
}

function text(raw: Raw): string {
  if (raw.value.trim() === "") throw new Error(`${raw.name} must not be empty`);
  return raw.value;
}

function replicaId(raw: Raw | undefined): string | undefined {
  return raw === undefined ? undefined : text(raw);
}

function databaseUrl(raw: Raw | undefined): string | undefined {
  if (raw === undefined) return undefined;
  let protocol: string | undefined;
  try {
    protocol = new URL(raw.value).protocol;
  } catch {
    // Reported below; the URL itself may hold a password, so it is not echoed.
  }
  if (protocol !== "postgres:" && protocol !== "postgresql:") {
    throw new Error(`${raw.name} must be a postgres:// or postgresql:// URL`);
  }
  return raw.value;
}

/** Exact origins as a browser sends them (`scheme://host[:port]`, no path), or `*` alone. */
function corsOrigins(raw: Raw | undefined): readonly string[] {
  if (raw === undefined) return Object.freeze([]);
  const origins = raw.value.split(",").map((origin) => origin.trim()).filter((origin) => origin !== "");
  if (origins.includes("*")) {
    if (origins.length > 1) throw new Error(`${raw.name}: * allows every origin and cannot be combined with others`);
    return Object.freeze(["*"]);
  }
  for (const origin of origins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      // Reported below.
    }
    if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin) {
      throw new Error(`${raw.name}: "${origin}" is not an origin; write it as the browser sends it, e.g. https://app.example.com or http://localhost:5173`);
    }
  }
  return Object.freeze([...new Set(origins)]);
}

function logLevel(raw: Raw): LogLevel {
  return oneOf(raw, LOG_LEVELS);
}

function oneOf<T extends string>(raw: Raw, values: readonly T[]): T {
  const value = values.find((v) => v === raw.value);
  if (value === undefined) {
    throw new Error(`${raw.name} must be one of ${values.join(", ")}, got "${raw.value}"`);
  }
  return value;
}
