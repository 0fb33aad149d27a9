import type { Action } from "../../src/actions/action.js";
import { createSagaClient, type SagaClient, type SagaClientOptions } from "../../src/client/index.js";
import type { Clock } from "../../src/domain/clock.js";
import { DEFAULT_VALIDATION_LIMITS, type ValidationLimits } from "../../src/domain/validate-saga.js";
import { build, type Server } from "../../src/server.js";
import { createTestDatabase, type TestDatabase } from "./database.js";

export interface TestServerOptions {
  actions?: Action[];
  clock?: Clock;
  random?: () => number;
  replicaId?: string;
  leaseTtlMs?: number;
  pollIntervalMs?: number;
  limits?: Partial<ValidationLimits>;
  shutdownGraceMs?: number;
  /**
   * Circuit breaker thresholds; default none (`failures: 0`). Tests fail actions on purpose, many
   * times over; with the server's default a breaker opened by one test would hold the next test's
   * steps for a 10 s probe. Tests about breakers set their own thresholds.
   */
  breaker?: { failures: number; openMs: number };
  /** Share a database with another test server (a second replica); default: a fresh one. */
  database?: TestDatabase;
}

export interface TestServer {
  server: Server;
  db: TestDatabase;
  client(options?: SagaClientOptions): SagaClient;
  /** Closes the server, and drops the database if this server created it. */
  close(): Promise<void>;
}

let counter = 0;

/** A real sagad (real Postgres, real HTTP/2 on a free port) for one test file. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const ownsDb = options.database === undefined;
  const db = options.database ?? (await createTestDatabase());
  const server = await build({
    databaseUrl: db.url,
    host: "127.0.0.1",
    port: 0,
    replicaId: options.replicaId ?? `test-${process.pid}-${++counter}`,
    leaseTtlMs: options.leaseTtlMs ?? 10_000,
    pollIntervalMs: options.pollIntervalMs ?? 200,
    limits: { ...DEFAULT_VALIDATION_LIMITS, ...options.limits },
    maxRequestBytes: 32 * 1024 * 1024,
    shutdownGraceMs: options.shutdownGraceMs ?? 200,
    poolSize: 10,
    actions: options.actions,
    clock: options.clock,
    random: options.random,
    breaker: options.breaker ?? { failures: 0, openMs: 10_000 },
  });
  return {
    server,
    db,
    client: (clientOptions) => createSagaClient(server.url, clientOptions),
    async close() {
      await server.close();
      if (ownsDb) await db.drop();
    },
  };
}
