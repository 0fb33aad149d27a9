import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SagaStatus, type SagaClient } from "../../src/client/index.js";
import { revokeToken } from "../../src/store/token-store.js";
import { expectCode, ONE_ATTEMPT, type StepSpecInit } from "../helpers/rpc.js";
import { sagaHistory } from "../helpers/saga-history.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createTestActions } from "../helpers/test-actions.js";
import { waitForStatus } from "../helpers/wait.js";

/** a (compensable) → b, which fails for good: the saga rests in FAILED and every operator RPC applies. */
const FAILING: StepSpecInit[] = [
  { name: "a", action: "record", compensate: { action: "record" } },
  { name: "b", action: "fail", dependsOn: ["a"], config: { retryable: false }, retryPolicy: ONE_ATTEMPT },
];

describe("what auth leaves behind", () => {
  let ts: TestServer;
  const actions = createTestActions();
  let admin: SagaClient;

  beforeAll(async () => {
    ts = await startTestServer({ actions: actions.actions });
    admin = ts.client();
  });

  afterAll(async () => {
    await ts?.close();
  });

  async function failedSaga(client: SagaClient, name: string): Promise<string> {
    const { saga } = await client.createSaga({ name, steps: FAILING });
    await waitForStatus(admin, saga!.id, SagaStatus.FAILED);
    return saga!.id;
  }

  /** Everything a request could have changed: sagas, steps, events, tokens. */
  async function snapshot() {
    const q = async (sql: string) => (await ts.db.pool.query(sql)).rows;
    return {
      sagas: await q("SELECT id, status, sequence, retry_count, cancel_requested, lease_owner, updated_at FROM sagas ORDER BY id"),
      steps: await q("SELECT saga_id, idx, status, attempt, spec, output FROM saga_steps ORDER BY saga_id, idx"),
      events: await q("SELECT count(*)::int AS n FROM saga_events"),
      tokens: await q("SELECT key_id, revoked_at FROM api_tokens ORDER BY key_id"),
      calls: actions.calls.length,
    };
  }

  it("a refused request changes nothing", async () => {
    const id = await failedSaga(admin, "victim");
    const reader = (await ts.issueToken(["sagas:read"], "audit-reader")).token;
    const executor = (await ts.issueToken(["sagas:execute"], "audit-executor")).token;
    const revoked = (await ts.issueToken(["admin"], "audit-revoked")).token;
    await revokeToken(ts.db.pool, "audit-revoked");
    await ts.server.tokens.reload();
    const before = await snapshot();

    const mutations = (c: SagaClient) => [
      c.createSaga({ name: "refused", requestId: "refused-create", steps: [{ name: "x", action: "record" }] }),
      c.retrySaga({ id }),
      c.rollbackSaga({ id }),
      c.cancelSaga({ id, reason: "refused" }),
      c.retryStep({ id, step: "b", config: { retryable: true } }),
      c.skipStep({ id, step: "b", output: { stand: "in" } }),
      c.deleteSaga({ id, force: true }),
    ];
    for (const [token, code] of [
      [null, Code.Unauthenticated],
      [revoked, Code.Unauthenticated],
      [reader, Code.PermissionDenied],
    ] as const) {
      for (const call of mutations(ts.client({ token }))) await expectCode(call, code);
    }
    // Execute may do all of the above but delete.
    await expectCode(ts.client({ token: executor }).deleteSaga({ id, force: true }), Code.PermissionDenied);

    expect(await snapshot()).toEqual(before);
    expect((await admin.getSaga({ id })).saga?.status).toBe(SagaStatus.FAILED);
  });

  it("records the token name on the events of CreateSaga and of every control operation", async () => {
    const deployer = ts.client({ token: (await ts.issueToken(["sagas:execute"], "ci-deployer")).token });
    const oncall = ts.client({ token: (await ts.issueToken(["sagas:execute"], "oncall")).token });
    const lead = ts.client({ token: (await ts.issueToken(["admin"], "release-lead")).token });

    // One saga per ending, each created by ci-deployer and steered by others.
    const retried = await failedSaga(deployer, "audit-retried");
    await oncall.retrySaga({ id: retried });
    await waitForStatus(admin, retried, SagaStatus.FAILED);
    await oncall.retryStep({ id: retried, step: "b" });
    await waitForStatus(admin, retried, SagaStatus.FAILED);
    await lead.skipStep({ id: retried, step: "b" });
    await waitForStatus(admin, retried, SagaStatus.COMPLETED);

    const rolledBack = await failedSaga(deployer, "audit-rolled-back");
    await oncall.rollbackSaga({ id: rolledBack });
    await waitForStatus(admin, rolledBack, SagaStatus.COMPENSATED);

    const cancelled = await failedSaga(deployer, "audit-cancelled");
    await lead.cancelSaga({ id: cancelled, reason: "not needed" });
    await waitForStatus(admin, cancelled, SagaStatus.CANCELLED);

    const expectedToken: Record<string, string> = {
      CreateSaga: "ci-deployer",
      RetrySaga: "oncall",
      RetryStep: "oncall",
      RollbackSaga: "oncall",
      SkipStep: "release-lead",
      CancelSaga: "release-lead",
    };
    const seen = new Set<string>();
    for (const id of [retried, rolledBack, cancelled]) {
      for (const event of await sagaHistory(admin, id)) {
        const want = expectedToken[event.actor] ?? "";
        expect(event.tokenName, `event ${event.sequence} (${event.actor}) of ${id}`).toBe(want);
        if (want !== "") seen.add(event.actor);
      }
    }
    // Every operation left at least one event carrying its token's name.
    expect([...seen].sort()).toEqual(Object.keys(expectedToken).sort());
  });
});
