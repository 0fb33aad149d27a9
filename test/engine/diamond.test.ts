import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SagaStatus, StepStatus, type Saga } from "../../src/client/index.js";
import { callsFor, overlapMs } from "../helpers/saga-history.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createTestActions, type RecordedCall } from "../helpers/test-actions.js";
import { waitForStatus } from "../helpers/wait.js";

/** How long each branch of the diamond sleeps; long enough that serial and parallel runs differ clearly. */
const BRANCH_MS = 300;

describe("diamond DAG a -> (b, c) -> d", () => {
  const t = createTestActions();
  let srv: TestServer;
  let done: Saga;
  const first = (step: string): RecordedCall => {
    const call = callsFor(t.calls, done.id, step)[0];
    if (!call) throw new Error(`step ${step} never ran`);
    return call;
  };

  beforeAll(async () => {
    srv = await startTestServer({ actions: t.actions });
    const client = srv.client({ protocol: "grpc" });
    const { saga } = await client.createSaga({
      name: "diamond",
      vars: { region: "eu-west" },
      steps: [
        { name: "a", action: "record", config: { region: "{{vars.region}}" } },
        { name: "b", action: "slow", config: { ms: BRANCH_MS }, dependsOn: ["a"] },
        { name: "c", action: "slow", config: { ms: BRANCH_MS }, dependsOn: ["a"] },
        {
          name: "d",
          action: "record",
          dependsOn: ["b", "c"],
          config: {
            fromB: "{{steps.b.output.slept}}",
            fromC: "{{steps.c.output.slept}}",
            // a is upstream of d only transitively; its output must still be readable.
            fromA: "{{steps.a.output.region}}",
            summary: "b={{steps.b.output.slept}} c={{steps.c.output.slept}}",
          },
        },
      ],
    });
    done = await waitForStatus(client, saga!.id, [SagaStatus.COMPLETED, SagaStatus.FAILED]);
  });
  afterAll(() => srv.close());

  it("completes every step", () => {
    expect(SagaStatus[done.status], done.error).toBe("COMPLETED");
    expect(done.steps.map((s) => StepStatus[s.status])).toEqual(["COMPLETED", "COMPLETED", "COMPLETED", "COMPLETED"]);
  });

  it("runs b and c at the same time, after a", () => {
    const [a, b, c] = [first("a"), first("b"), first("c")];
    expect(b.startedAt).toBeGreaterThanOrEqual(a.endedAt!);
    expect(c.startedAt).toBeGreaterThanOrEqual(a.endedAt!);
    // Most of their 300 ms overlapped; run one after the other they would overlap by <= 0.
    expect(overlapMs(b, c)).toBeGreaterThan(BRANCH_MS / 2);
  });

  it("starts d only after both b and c ended", () => {
    const [b, c, d] = [first("b"), first("c"), first("d")];
    expect(d.startedAt).toBeGreaterThanOrEqual(Math.max(b.endedAt!, c.endedAt!));
  });

  it("renders the outputs of b, c (and transitively a) into d's config", () => {
    // Whole-value templates keep the JSON type; embedded ones are rendered as text.
    expect(first("d").config).toEqual({
      fromB: BRANCH_MS,
      fromC: BRANCH_MS,
      fromA: "eu-west",
      summary: `b=${BRANCH_MS} c=${BRANCH_MS}`,
    });
    expect(done.outputs.b).toEqual({ slept: BRANCH_MS });
    expect(done.outputs.d).toMatchObject({ fromB: BRANCH_MS, fromC: BRANCH_MS, fromA: "eu-west", step: "d", attempt: 1 });
  });

  it("calls each step's action exactly once (no failures, so no retries or re-runs)", () => {
    const perStep = Object.fromEntries(["a", "b", "c", "d"].map((s) => [s, callsFor(t.calls, done.id, s).map((c) => c.attempt)]));
    expect(perStep).toEqual({ a: [1], b: [1], c: [1], d: [1] });
  });
});
