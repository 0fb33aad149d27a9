import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SagaStatus, type SagaClient } from "../../src/client/index.js";
import { ONE_ATTEMPT } from "../helpers/rpc.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createTestActions } from "../helpers/test-actions.js";
import { waitForStatus } from "../helpers/wait.js";

/**
 * Operator operations that take a resting saga straight to another resting state, in the same
 * commit. The operating replica holds no lease on a resting saga, so that commit must not be
 * fenced on one (it used to be, and every such call ended in "changing too fast").
 */
describe("an operator operation that puts a FAILED saga straight back to rest", () => {
  let ts: TestServer;
  let client: SagaClient;

  beforeAll(async () => {
    ts = await startTestServer({ actions: createTestActions().actions });
    client = ts.client();
  });

  afterAll(async () => {
    await ts?.close();
  });

  async function failedSaga(): Promise<string> {
    const { saga } = await client.createSaga({
      name: "to-rest",
      steps: [{ name: "only", action: "fail", config: { retryable: false }, retryPolicy: ONE_ATTEMPT }],
    });
    await waitForStatus(client, saga!.id, SagaStatus.FAILED);
    return saga!.id;
  }

  async function leaseOwner(id: string): Promise<string | null> {
    const { rows } = await ts.db.pool.query("SELECT lease_owner FROM sagas WHERE id = $1", [id]);
    return rows[0].lease_owner as string | null;
  }

  it("SkipStep of the only failed step answers COMPLETED", async () => {
    const id = await failedSaga();
    const { saga } = await client.skipStep({ id, step: "only", output: { manual: true } });
    expect(SagaStatus[saga!.status]).toBe("COMPLETED");
    expect(await leaseOwner(id)).toBeNull();
  });

  it("RollbackSaga with nothing to compensate answers COMPENSATED", async () => {
    const id = await failedSaga();
    const { saga } = await client.rollbackSaga({ id });
    expect(SagaStatus[saga!.status]).toBe("COMPENSATED");
    expect(await leaseOwner(id)).toBeNull();
  });

  it("CancelSaga with nothing to compensate ends CANCELLED", async () => {
    const id = await failedSaga();
    await client.cancelSaga({ id, reason: "not needed" });
    const saga = await waitForStatus(client, id, SagaStatus.CANCELLED);
    expect(SagaStatus[saga.status]).toBe("CANCELLED");
    expect(await leaseOwner(id)).toBeNull();
  });
});
