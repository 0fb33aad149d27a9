import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SagaStatus } from "../../src/client/index.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createTestActions } from "../helpers/test-actions.js";
import { waitForStatus } from "../helpers/wait.js";

describe("engine smoke", () => {
  const t = createTestActions();
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ actions: t.actions });
  });
  afterAll(() => srv.close());

  it("runs a flaky step to completion", async () => {
    const client = srv.client();
    const { saga } = await client.createSaga({
      name: "smoke",
      steps: [{ name: "a", action: "flaky", config: { failTimes: 2 }, retryPolicy: { maxAttempts: 3, initialInterval: { seconds: 0n, nanos: 10_000_000 } } }],
    });
    const done = await waitForStatus(client, saga!.id, SagaStatus.COMPLETED);
    expect(done.steps[0]!.retryCount).toBe(3);
    expect(t.callsOf("a").map((c) => c.attempt)).toEqual([1, 2, 3]);
  });
});
