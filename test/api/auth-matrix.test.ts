import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DefinitionService, DefinitionState, SagaService, WorkerService, type DefinitionClient, type SagaClient, type WorkerClient } from "../../src/client/index.js";
import { revokeToken } from "../../src/store/token-store.js";
import { PROTOCOLS, type Protocol } from "../helpers/rpc.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

type SagaRpc = keyof typeof SagaService.method;
type DefinitionRpc = keyof typeof DefinitionService.method;
type WorkerRpc = keyof typeof WorkerService.method;

const UNKNOWN_ID = "00000000-0000-4000-8000-000000000000";
const UNKNOWN_DEFINITION = "matrix-no-such-definition";

/**
 * What an RPC needs, written out independently of src/api/method-scopes.ts: `read` is
 * sagas:read, `execute` sagas:execute, `write` definitions:write, `workers` workers, `admin` admin.
 */
type Need = "read" | "execute" | "write" | "workers" | "admin";

/**
 * One call per RPC. Where access is granted they mostly answer NOT_FOUND (no such saga or
 * definition), which is the point: the access decision comes before the handler. Typed over the
 * generated service, so a new RPC without a row here does not compile; and the matrix walks the
 * service descriptor's methods, so it also fails at run time (vitest does not type-check).
 */
const SAGA_CALLS: Record<SagaRpc, (client: SagaClient) => Promise<unknown>> = {
  getSaga: (c) => c.getSaga({ id: UNKNOWN_ID }),
  listSagas: (c) => c.listSagas({}),
  watchSaga: async (c) => {
    for await (const _ of c.watchSaga({ id: UNKNOWN_ID })) {
      // an unknown saga ends the stream with NOT_FOUND before any message
    }
  },
  listCircuits: (c) => c.listCircuits({}),
  whoAmI: (c) => c.whoAmI({}),
  createSaga: (c) => c.createSaga({ name: "matrix", steps: [{ name: "a", action: "noop" }] }),
  retrySaga: (c) => c.retrySaga({ id: UNKNOWN_ID }),
  rollbackSaga: (c) => c.rollbackSaga({ id: UNKNOWN_ID }),
  cancelSaga: (c) => c.cancelSaga({ id: UNKNOWN_ID }),
  retryStep: (c) => c.retryStep({ id: UNKNOWN_ID, step: "a" }),
  skipStep: (c) => c.skipStep({ id: UNKNOWN_ID, step: "a" }),
  deleteSaga: (c) => c.deleteSaga({ id: UNKNOWN_ID }),
};

const SAGA_NEEDS: Record<SagaRpc, Need> = {
  getSaga: "read",
  listSagas: "read",
  watchSaga: "read",
  listCircuits: "read",
  whoAmI: "read",
  createSaga: "execute",
  retrySaga: "execute",
  rollbackSaga: "execute",
  cancelSaga: "execute",
  retryStep: "execute",
  skipStep: "execute",
  deleteSaga: "admin",
};

/** Registering the same spec again answers the existing version (`created` false), so callers can repeat it. */
const DEFINITION_CALLS: Record<DefinitionRpc, (client: DefinitionClient) => Promise<unknown>> = {
  registerDefinition: (c) => c.registerDefinition({ spec: { name: "matrix-definition", steps: [{ name: "a", action: "noop" }] } }),
  getDefinition: (c) => c.getDefinition({ name: UNKNOWN_DEFINITION }),
  listDefinitions: (c) => c.listDefinitions({}),
  listDefinitionVersions: (c) => c.listDefinitionVersions({ name: UNKNOWN_DEFINITION }),
  renderDefinition: (c) => c.renderDefinition({ name: UNKNOWN_DEFINITION }),
  setDefinitionState: (c) => c.setDefinitionState({ name: UNKNOWN_DEFINITION, version: 1, state: DefinitionState.DISABLED }),
};

const DEFINITION_NEEDS: Record<DefinitionRpc, Need> = {
  registerDefinition: "write",
  getDefinition: "read",
  listDefinitions: "read",
  listDefinitionVersions: "read",
  renderDefinition: "read",
  setDefinitionState: "write",
};

/** Calls with a session or token nobody has: granted ones answer NOT_FOUND or INVALID_ARGUMENT. */
const NO_SESSION = "ws_matrix-none";
const WORKER_CALLS: Record<WorkerRpc, (client: WorkerClient) => Promise<unknown>> = {
  registerWorker: (c) => c.registerWorker({ instanceId: "matrix-worker", actions: [{ name: "matrix-action" }], slots: 1 }),
  subscribe: async (c) => {
    for await (const _ of c.subscribe({ sessionId: NO_SESSION })) {
      // an unknown session ends the stream with NOT_FOUND before any message
    }
  },
  pollTasks: (c) => c.pollTasks({ sessionId: NO_SESSION }),
  ackTasks: (c) => c.ackTasks({ sessionId: NO_SESSION, tokens: [] }),
  heartbeat: (c) => c.heartbeat({ sessionId: NO_SESSION }),
  completeTask: (c) => c.completeTask({ token: "not-a-task-token" }),
  failTask: (c) => c.failTask({ token: "not-a-task-token" }),
  reportCancelled: (c) => c.reportCancelled({ token: "not-a-task-token" }),
  drain: (c) => c.drain({ sessionId: NO_SESSION }),
  listWorkers: (c) => c.listWorkers({}),
};

const WORKER_NEEDS: Record<WorkerRpc, Need> = {
  registerWorker: "workers",
  subscribe: "workers",
  pollTasks: "workers",
  ackTasks: "workers",
  heartbeat: "workers",
  completeTask: "workers",
  failTask: "workers",
  reportCancelled: "workers",
  drain: "workers",
  listWorkers: "read",
};

const CALLERS = [
  "no token",
  "garbage token",
  "wrong secret",
  "unknown key id",
  "revoked token",
  "read",
  "execute",
  "read+execute",
  "write",
  "read+write",
  "workers",
  "admin",
] as const;
type Caller = (typeof CALLERS)[number];

/** What each caller may do; everyone else gets UNAUTHENTICATED. */
const GRANTS: Partial<Record<Caller, readonly Need[]>> = {
  read: ["read"],
  execute: ["execute"],
  "read+execute": ["read", "execute"],
  write: ["write"],
  "read+write": ["read", "write"],
  workers: ["workers"],
  admin: ["read", "execute", "write", "workers", "admin"],
};

const SCOPE_NAMES = { read: "sagas:read", execute: "sagas:execute", write: "definitions:write", workers: "workers", admin: "admin" } as const;

type Outcome = "granted" | "UNAUTHENTICATED" | "PERMISSION_DENIED";

function expected(caller: Caller, need: Need): Outcome {
  const grants = GRANTS[caller];
  if (!grants) return "UNAUTHENTICATED";
  return grants.includes(need) ? "granted" : "PERMISSION_DENIED";
}

/** Granted means the handler ran: success or any code but the two access codes. */
async function outcome(call: Promise<unknown>): Promise<{ outcome: Outcome; message: string }> {
  try {
    await call;
    return { outcome: "granted", message: "" };
  } catch (err) {
    const e = ConnectError.from(err);
    if (e.code === Code.Unauthenticated) return { outcome: "UNAUTHENTICATED", message: e.rawMessage };
    if (e.code === Code.PermissionDenied) return { outcome: "PERMISSION_DENIED", message: e.rawMessage };
    return { outcome: "granted", message: e.rawMessage };
  }
}

/** One service's half of the matrix: its descriptor, a client for it, and its two tables. */
interface ServiceMatrix<C> {
  service: DescService;
  client(ts: TestServer, protocol: Protocol, token: string | null): C;
  calls: Record<string, (client: C) => Promise<unknown>>;
  needs: Record<string, Need>;
}

const SERVICES: ReadonlyArray<ServiceMatrix<SagaClient> | ServiceMatrix<DefinitionClient> | ServiceMatrix<WorkerClient>> = [
  { service: SagaService, client: (ts, protocol, token) => ts.client({ protocol, token }), calls: SAGA_CALLS, needs: SAGA_NEEDS },
  { service: DefinitionService, client: (ts, protocol, token) => ts.definitions({ protocol, token }), calls: DEFINITION_CALLS, needs: DEFINITION_NEEDS },
  { service: WorkerService, client: (ts, protocol, token) => ts.workers({ protocol, token }), calls: WORKER_CALLS, needs: WORKER_NEEDS },
];

describe("the access matrix: every SagaService, DefinitionService and WorkerService RPC × every kind of caller", () => {
  let ts: TestServer;
  const tokens = new Map<Caller, string | null>();
  /** Everything a message must never mention: other tokens' names, key ids and secrets. */
  const secrets: string[] = [];

  beforeAll(async () => {
    ts = await startTestServer();
    const read = await ts.issueToken(["sagas:read"], "matrix-read");
    const execute = await ts.issueToken(["sagas:execute"], "matrix-execute");
    const both = await ts.issueToken(["sagas:read", "sagas:execute"], "matrix-read-execute");
    const write = await ts.issueToken(["definitions:write"], "matrix-write");
    const readWrite = await ts.issueToken(["sagas:read", "definitions:write"], "matrix-read-write");
    const workers = await ts.issueToken(["workers"], "matrix-workers");
    const revoked = await ts.issueToken(["admin"], "matrix-revoked");
    await revokeToken(ts.db.pool, "matrix-revoked");
    await ts.server.tokens.reload();
    const admin = ts.adminToken;
    const adminKeyId = admin.split("_")[1]!;
    tokens.set("no token", null);
    tokens.set("garbage token", "not-a-sagad-token");
    tokens.set("wrong secret", `sagad_${adminKeyId}_${read.token.slice(-43)}`);
    tokens.set("unknown key id", `sagad_ffffffffffffffff_${admin.slice(-43)}`);
    tokens.set("revoked token", revoked.token);
    tokens.set("read", read.token);
    tokens.set("execute", execute.token);
    tokens.set("read+execute", both.token);
    tokens.set("write", write.token);
    tokens.set("read+write", readWrite.token);
    tokens.set("workers", workers.token);
    tokens.set("admin", admin);
    for (const t of [read, execute, both, write, readWrite, workers, revoked]) secrets.push(t.name, t.keyId, t.token.slice(-43));
    secrets.push(adminKeyId, admin.slice(-43));
  });

  afterAll(async () => {
    await ts?.close();
  });

  for (const { service, client: clientFor, calls, needs } of SERVICES) {
    it(`has a call and an expected scope for every ${service.typeName} RPC in the descriptor, and no others`, () => {
      const rpcs = service.methods.map((m) => m.localName).sort();
      expect(Object.keys(calls).sort()).toEqual(rpcs);
      expect(Object.keys(needs).sort()).toEqual(rpcs);
    });

    for (const protocol of PROTOCOLS) {
      it.each(CALLERS)(`${service.typeName} over ${protocol}: %s`, async (caller) => {
        const client = clientFor(ts, protocol, tokens.get(caller) ?? null);
        const actual: Record<string, Outcome | "no entry in the test's tables"> = {};
        const want: Record<string, Outcome> = {};
        // Walks the descriptor, not the tables: an RPC the tables lack shows up as a mismatch.
        for (const method of service.methods) {
          const rpc = method.localName;
          const call = calls[rpc] as ((c: typeof client) => Promise<unknown>) | undefined;
          const need = needs[rpc];
          if (call === undefined || need === undefined) {
            actual[rpc] = "no entry in the test's tables";
            want[rpc] = "granted";
            continue;
          }
          const result = await outcome(call(client));
          actual[rpc] = result.outcome;
          want[rpc] = expected(caller, need);
          if (result.outcome === "PERMISSION_DENIED") {
            const scope = SCOPE_NAMES[need];
            expect(result.message).toBe(`${method.name} needs scope ${scope}${scope === "admin" ? "" : " (or admin)"}`);
          }
          for (const secret of secrets) expect(result.message, `${rpc} message`).not.toContain(secret);
        }
        expect(actual).toEqual(want);
      });
    }
  }

  it("over gRPC-Web too, for a refused and a granted call of each service", async () => {
    const refused = await outcome(ts.client({ protocol: "grpc-web", token: null }).listSagas({}));
    const granted = await outcome(ts.client({ protocol: "grpc-web" }).listSagas({}));
    const refusedDefs = await outcome(ts.definitions({ protocol: "grpc-web", token: null }).listDefinitions({}));
    const grantedDefs = await outcome(ts.definitions({ protocol: "grpc-web" }).listDefinitions({}));
    expect([refused.outcome, granted.outcome, refusedDefs.outcome, grantedDefs.outcome]).toEqual([
      "UNAUTHENTICATED",
      "granted",
      "UNAUTHENTICATED",
      "granted",
    ]);
  });
});
