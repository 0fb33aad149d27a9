import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SAGA_SERVICE_SCOPES } from "../../src/api/method-scopes.js";
import type { SagaClient } from "../../src/client/index.js";
import { revokeToken } from "../../src/store/token-store.js";
import { PROTOCOLS } from "../helpers/rpc.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

type Rpc = keyof typeof SAGA_SERVICE_SCOPES;

const UNKNOWN_ID = "00000000-0000-4000-8000-000000000000";

/**
 * One call per RPC. Where access is granted they mostly answer NOT_FOUND (no such saga), which is
 * the point: the access decision comes before the handler. Typed over the access table, so a new
 * RPC without a row here does not compile.
 */
const CALLS: Record<Rpc, (client: SagaClient) => Promise<unknown>> = {
  getSaga: (c) => c.getSaga({ id: UNKNOWN_ID }),
  listSagas: (c) => c.listSagas({}),
  watchSaga: async (c) => {
    for await (const _ of c.watchSaga({ id: UNKNOWN_ID })) {
      // an unknown saga ends the stream with NOT_FOUND before any message
    }
  },
  listCircuits: (c) => c.listCircuits({}),
  createSaga: (c) => c.createSaga({ name: "matrix", steps: [{ name: "a", action: "noop" }] }),
  retrySaga: (c) => c.retrySaga({ id: UNKNOWN_ID }),
  rollbackSaga: (c) => c.rollbackSaga({ id: UNKNOWN_ID }),
  cancelSaga: (c) => c.cancelSaga({ id: UNKNOWN_ID }),
  retryStep: (c) => c.retryStep({ id: UNKNOWN_ID, step: "a" }),
  skipStep: (c) => c.skipStep({ id: UNKNOWN_ID, step: "a" }),
  deleteSaga: (c) => c.deleteSaga({ id: UNKNOWN_ID }),
};

/** The expected table, written out independently of src/api/method-scopes.ts. */
const NEEDS: Record<Rpc, "read" | "execute" | "admin"> = {
  getSaga: "read",
  listSagas: "read",
  watchSaga: "read",
  listCircuits: "read",
  createSaga: "execute",
  retrySaga: "execute",
  rollbackSaga: "execute",
  cancelSaga: "execute",
  retryStep: "execute",
  skipStep: "execute",
  deleteSaga: "admin",
};

const CALLERS = ["no token", "garbage token", "wrong secret", "unknown key id", "revoked token", "read", "execute", "read+execute", "admin"] as const;
type Caller = (typeof CALLERS)[number];

/** What each caller may do; everyone else gets UNAUTHENTICATED. */
const GRANTS: Partial<Record<Caller, ReadonlyArray<"read" | "execute" | "admin">>> = {
  read: ["read"],
  execute: ["execute"],
  "read+execute": ["read", "execute"],
  admin: ["read", "execute", "admin"],
};

const SCOPE_NAMES = { read: "sagas:read", execute: "sagas:execute", admin: "admin" } as const;

type Outcome = "granted" | "UNAUTHENTICATED" | "PERMISSION_DENIED";

function expected(caller: Caller, rpc: Rpc): Outcome {
  const grants = GRANTS[caller];
  if (!grants) return "UNAUTHENTICATED";
  return grants.includes(NEEDS[rpc]) ? "granted" : "PERMISSION_DENIED";
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

describe("the access matrix: every SagaService RPC × every kind of caller", () => {
  let ts: TestServer;
  const tokens = new Map<Caller, string | null>();
  /** Everything a message must never mention: other tokens' names, key ids and secrets. */
  const secrets: string[] = [];

  beforeAll(async () => {
    ts = await startTestServer();
    const read = await ts.issueToken(["sagas:read"], "matrix-read");
    const execute = await ts.issueToken(["sagas:execute"], "matrix-execute");
    const both = await ts.issueToken(["sagas:read", "sagas:execute"], "matrix-read-execute");
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
    tokens.set("admin", admin);
    for (const t of [read, execute, both, revoked]) secrets.push(t.name, t.keyId, t.token.slice(-43));
    secrets.push(adminKeyId, admin.slice(-43));
  });

  afterAll(async () => {
    await ts?.close();
  });

  for (const protocol of PROTOCOLS) {
    it.each(CALLERS)(`over ${protocol}: %s`, async (caller) => {
      const client = ts.client({ protocol, token: tokens.get(caller) ?? null });
      const actual: Record<string, Outcome> = {};
      const want: Record<string, Outcome> = {};
      for (const rpc of Object.keys(CALLS) as Rpc[]) {
        const result = await outcome(CALLS[rpc](client));
        actual[rpc] = result.outcome;
        want[rpc] = expected(caller, rpc);
        const method = rpc[0]!.toUpperCase() + rpc.slice(1);
        if (result.outcome === "PERMISSION_DENIED") {
          const scope = SCOPE_NAMES[NEEDS[rpc]];
          expect(result.message).toBe(`${method} needs scope ${scope}${scope === "admin" ? "" : " (or admin)"}`);
        }
        for (const secret of secrets) expect(result.message, `${rpc} message`).not.toContain(secret);
      }
      expect(actual).toEqual(want);
    });
  }

  it("over gRPC-Web too, for a refused and a granted call", async () => {
    const refused = await outcome(ts.client({ protocol: "grpc-web", token: null }).listSagas({}));
    const granted = await outcome(ts.client({ protocol: "grpc-web" }).listSagas({}));
    expect([refused.outcome, granted.outcome]).toEqual(["UNAUTHENTICATED", "granted"]);
  });
});
