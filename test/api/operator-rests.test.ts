import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SagaStatus, StepStatus, type SagaClient } from "../../src/client/index.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createTestActions } from "../helpers/test-actions.js";
import { ONE_ATTEMPT } from "../helpers/rpc.js";
import { waitForStatus } from "../helpers/wait.js";

/**
 * Operator operations whose one decision puts the saga straight to rest: the commit must free the
 * lease whoever held it (a FAILED saga holds none), not be fenced on it.
 */
describe("an operator operation that puts the saga to rest at once", () => {
  const t = createTestActions();
  let srv: TestServer;
  let client: SagaClient;
  beforeAll(async () => {
    srv = await startTestServer({ actions: t.actions });
    client = srv.client();
  });
  afterAll(() => srv?.close());

  async function failedSaga(name: string): Promise<string> {
    const { saga } = await client.createSaga({ name, steps: [{ name: "a", action: "fail", retryPolicy: ONE_ATTEMPT }] });
    await waitForStatus(client, saga!.id, SagaStatus.FAILED);
    return saga!.id;
  }

  it("SkipStep of the last failed step completes the saga", async () => {
    const id = await failedSaga("skip-last");
    const { saga } = await client.skipStep({ id, step: "a" });
    expect(saga!.status).toBe(SagaStatus.COMPLETED);
    expect(saga!.steps[0]!.status).toBe(StepStatus.SKIPPED);
  });

  it("RollbackSaga with nothing to compensate ends COMPENSATED", async () => {
    const id = await failedSaga("rollback-nothing");
    const { saga } = await client.rollbackSaga({ id });
    expect(saga!.status).toBe(SagaStatus.COMPENSATED);
  });

  it("CancelSaga with nothing to compensate ends CANCELLED", async () => {
    const id = await failedSaga("cancel-nothing");
    const { saga } = await client.cancelSaga({ id, reason: "not needed" });
    expect(saga!.status).toBe(SagaStatus.CANCELLED);
    expect((await client.getSaga({ id })).saga!.status).toBe(SagaStatus.CANCELLED);
  });
});
