import { Backoff, FailurePolicy, SagaStatus } from "../../src/client/index.js";
import type { StepSpecInit } from "../helpers/rpc.js";
import type { Random } from "./random.js";
import type { StepBehaviour } from "./worker-journal.js";
import type { SagaPlan } from "./workload.js";

/**
 * The saga shapes of the worker scenario, every step and compensation a task for the chaos
 * workers (worker-process.ts), which answer as the step's config says:
 * - chain: s1 → s2 → s3 → s4 (COMPLETED);
 * - fanout: root → {p1, p2, p3} → join (COMPLETED);
 * - compensate: reserve → charge → {ship, notify}, every step but notify compensated; notify
 *   fails for good under COMPENSATE, so the completed steps are undone (COMPENSATED);
 * - fail: a → {b, c}; b fails for good under HOLD, nobody steps in (FAILED).
 * Any step or compensation may be flaky (a retryable failure on attempt 1). Handlers take a few
 * ms to a few s, so the kills meet tasks running.
 */
const MIX = { chain: 35, fanout: 20, compensate: 30, fail: 15 } as const;
type WorkerKind = keyof typeof MIX;
const FLAKY_SHARE = 0.15;
const SLOW_SHARE = 0.3;
const POLICY = { maxAttempts: 3, backoff: Backoff.FIXED, initialInterval: { seconds: 0n, nanos: 100_000_000 } };
const COMPENSATION_POLICY = { maxAttempts: 4, backoff: Backoff.FIXED, initialInterval: { seconds: 0n, nanos: 100_000_000 } };

export function planWorkerSagas(count: number, runId: string, random: Random): SagaPlan[] {
  return Array.from({ length: count }, (_, index) => planOne(index, runId, random));
}

function planOne(index: number, runId: string, random: Random): SagaPlan {
  const kind = random.weighted(MIX);
  const ms = () => (random.chance(SLOW_SHARE) ? random.int(800, 3_000) : random.int(20, 300));
  const maybeFlaky = (): StepBehaviour => (random.chance(FLAKY_SHARE) ? "flaky" : "ok");
  const step = (name: string, dependsOn: string[], behaviour: StepBehaviour, compensated = false): StepSpecInit => ({
    name,
    action: "chaos.work",
    dependsOn,
    config: { behaviour, ms: ms(), ref: "{{vars.ref}}" },
    retryPolicy: POLICY,
    ...(compensated
      ? { compensate: { action: "chaos.undo", config: { behaviour: maybeFlaky(), ms: ms(), undo: name }, retryPolicy: COMPENSATION_POLICY } }
      : {}),
  });
  let steps: StepSpecInit[];
  let expected = SagaStatus.COMPLETED;
  let failurePolicy = FailurePolicy.HOLD;
  switch (kind) {
    case "chain":
      steps = ["s1", "s2", "s3", "s4"].map((name, i) => step(name, i === 0 ? [] : [`s${i}`], maybeFlaky()));
      break;
    case "fanout":
      steps = [step("root", [], maybeFlaky()), ...["p1", "p2", "p3"].map((n) => step(n, ["root"], maybeFlaky())), step("join", ["p1", "p2", "p3"], maybeFlaky())];
      break;
    case "compensate":
      steps = [
        step("reserve", [], maybeFlaky(), true),
        step("charge", ["reserve"], maybeFlaky(), true),
        step("ship", ["charge"], maybeFlaky(), true),
        step("notify", ["charge"], "fail"),
      ];
      failurePolicy = FailurePolicy.COMPENSATE;
      expected = SagaStatus.COMPENSATED;
      break;
    case "fail":
      steps = [step("a", [], maybeFlaky()), step("b", ["a"], "fail"), step("c", ["a"], maybeFlaky())];
      expected = SagaStatus.FAILED;
      break;
  }
  const requestId = `${runId}-${index}`;
  return {
    index,
    // The shared plan type names http shapes; the report only counts kinds.
    kind: kind as SagaPlan["kind"],
    requestId,
    request: { name: `chaos-worker-${kind}`, requestId, labels: { chaos: "workers" }, vars: { ref: requestId }, failurePolicy, steps },
    expected,
    skipOnFailure: null,
  };
}
