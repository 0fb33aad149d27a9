import type { Logger } from "pino";
import { inject } from "vitest";
import type { Action } from "../../src/actions/action.js";
import {
  createDefinitionClient,
  createSagaClient,
  createWorkerClient,
  type DefinitionClient,
  type SagaClient,
  type SagaClientOptions,
  type WorkerClient,
} from "../../src/client/index.js";
import type { WorkerSettings } from "../../src/workers/worker-settings.js";
import type { IssuedToken } from "../../src/auth/issue-token.js";
import type { Clock } from "../../src/domain/clock.js";
import type { Scope } from "../../src/domain/scopes.js";
import { DEFAULT_VALIDATION_LIMITS, type ValidationLimits } from "../../src/domain/validate-saga.js";
import { build, type Server } from "../../src/server.js";
import { createTestDatabase, type TestDatabase } from "./database.js";
import { createTestToken } from "./tokens.js";

export interface TestServerOptions {
  actions?: Action[];
  clock?: Clock;
  random?: () => number;
  replicaId?: string;
  leaseTtlMs?: number;
  pollIntervalMs?: number;
  limits?: Partial<ValidationLimits>;
  shutdownGraceMs?: number;
  /** Backstop reload period of the token cache; default the server's (5 s). */
  tokenReloadMs?: number;
  /**
   * Circuit breaker thresholds; default none (`failures: 0`). Tests fail actions on purpose, many
   * times over; with the server's default a breaker opened by one test would hold the next test's
   * steps for a 10 s probe. Tests about breakers set their own thresholds.
   */
  breaker?: { failures: number; openMs: number };
  /** Share a database with another test server (a second replica); default: a fresh one. */
  database?: TestDatabase;
  /** Default: silent. */
  logger?: Logger;
  /** Also serve /metrics on this port (0: a free one); default: only on the main port. */
  metricsPort?: number;
  /** Origins whose web pages may call it (CORS); default none. */
  corsOrigins?: readonly string[];
  /** Worker protocol timing; default the server's. */
  workers?: Partial<WorkerSettings>;
  /** The web console's built files; default this run's fresh build (see global-setup.ts). */
  consoleDir?: string;
}

/** Client options for tests: `token` defaults to the server's admin token; null sends none. */
export type TestClientOptions = Omit<SagaClientOptions, "token"> & { token?: string | null };

export interface TestServer {
  server: Server;
  db: TestDatabase;
  /** An admin token made for this server; {@link client} uses it unless told otherwise. */
  adminToken: string;
  /** Its name, as recorded on events and RPC log lines. */
  adminTokenName: string;
  client(options?: TestClientOptions): SagaClient;
  /** A DefinitionService client, token as for {@link client}. */
  definitions(options?: TestClientOptions): DefinitionClient;
  /** A WorkerService client, token as for {@link client}. */
  workers(options?: TestClientOptions): WorkerClient;
  /** Creates a token and waits until this server accepts it. */
  issueToken(scopes: readonly Scope[], name?: string): Promise<IssuedToken>;
  /** Closes the server, and drops the database if this server created it. */
  close(): Promise<void>;
}

let counter = 0;

/** A real sagad (real Postgres, real HTTP/2 on a free port) for one test file. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const ownsDb = options.database === undefined;
  const db = options.database ?? (await createTestDatabase());
  // Before build, so the server's first token load has it: every test server starts with an admin.
  const admin = await createTestToken(db.pool, ["admin"]);
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
    tokenReloadMs: options.tokenReloadMs,
    logger: options.logger,
    metricsPort: options.metricsPort,
    corsOrigins: options.corsOrigins,
    breaker: options.breaker ?? { failures: 0, openMs: 10_000 },
    workers: options.workers,
    consoleDir: options.consoleDir ?? inject("consoleDir"),
  });
  return {
    server,
    db,
    adminToken: admin.token,
    adminTokenName: admin.name,
    client: ({ token = admin.token, ...rest } = {}) => createSagaClient(server.url, { ...rest, token: token ?? undefined }),
    definitions: ({ token = admin.token, ...rest } = {}) => createDefinitionClient(server.url, { ...rest, token: token ?? undefined }),
    workers: ({ token = admin.token, ...rest } = {}) => createWorkerClient(server.url, { ...rest, token: token ?? undefined }),
    async issueToken(scopes, name) {
      const issued = await createTestToken(db.pool, scopes, name);
      await server.tokens.reload();
      return issued;
    },
    async close() {
      await server.close();
      if (ownsDb) await db.drop();
    },
  };
}
