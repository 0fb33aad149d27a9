/** An embedded action's ActionError may hold the next attempt back (a Retry-After), as a worker's FailTask does. */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActionError, type Action } from "../../src/actions/action.js";
import { SagaStatus, StepStatus } from "../../src/client/index.js";
import { ms } from "../helpers/rpc.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { sagaUntil } from "../workers/worker-harness.js";

const limited: Action = {
  name: "rate-limited",
  async run(ctx) {
    if (ctx.attempt === 1) throw new ActionError("429 Too Many Requests", { kind: "RATE_LIMITED", retryable: true, retryAfterMs: 700 });
    return { attempt: ctx.attempt };
  },
};

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ actions: [limited] });
});
afterAll(() => t?.close());

describe("retryAfterMs of an embedded action", () => {
  it("schedules the next attempt no sooner than it asks, however short the backoff", async () => {
    const { saga } = await t.client().createSaga({
      name: "retry-after",
      steps: [{ name: "a", action: "rate-limited", retryPolicy: { maxAttempts: 2, initialInterval: ms(10) } }],
    });
    const scheduled = await sagaUntil(t.client(), saga!.id, (s) => s.steps[0]!.status === StepStatus.RETRY_SCHEDULED || s.status === SagaStatus.COMPLETED);
    expect(scheduled.steps[0]!.status).toBe(StepStatus.RETRY_SCHEDULED);
    const failedAt = timestampMs(scheduled.updateTime!);
    expect(timestampMs(scheduled.steps[0]!.nextAttemptTime!) - failedAt).toBeGreaterThanOrEqual(700);
    const done = await sagaUntil(t.client(), saga!.id, SagaStatus.COMPLETED);
    expect(done.steps[0]!.output).toEqual({ attempt: 2 });
  });
});
