import { Backoff, FailurePolicy, SagaStatus } from "../../src/client/index.js";
import type { CreateSagaInit, StepSpecInit } from "../helpers/rpc.js";
import type { Random } from "./random.js";
import type { Behaviour, Target } from "./target.js";

/**
 * The saga shapes of the fault scenarios, every step an `http` call to the harness's target:
 * - chain: s1 → s2 → s3 → s4;
 * - fanout: root → {p1, p2, p3} → join (parallel steps);
 * - compensate: reserve → charge → {ship, notify}; notify fails for good, failure policy
 *   COMPENSATE, so the completed steps are compensated in reverse order (COMPENSATED);
 * - hold: a → {b, d} → c; b fails for good under HOLD (FAILED), and the harness, acting as the
 *   operator, skips b, so c runs and the saga COMPLETES.
 * Any step may be flaky (503 on its first attempt); its retry then succeeds.
 */
export type Kind = "chain" | "fanout" | "compensate" | "hold";

export interface SagaPlan {
  index: number;
  kind: Kind;
  /** Idempotent create: a retried CreateSaga (replica killed mid-call) returns the same saga. */
  requestId: string;
  request: CreateSagaInit;
  /** The status the saga must rest in at the end. */
  expected: SagaStatus;
  /** When the saga first rests FAILED, the operator skips this step (hold only). */
  skipOnFailure: string | null;
}

const MIX: Record<Kind, number> = { chain: 35, fanout: 25, compensate: 25, hold: 15 };
const FLAKY_SHARE = 0.12;
const ACTION_POLICY = { maxAttempts: 3, backoff: Backoff.FIXED, initialInterval: { seconds: 0n, nanos: 50_000_000 } };
const COMPENSATION_POLICY = { maxAttempts: 4, backoff: Backoff.FIXED, initialInterval: { seconds: 0n, nanos: 50_000_000 } };

export function planSagas(count: number, runId: string, label: string, target: Target, random: Random): SagaPlan[] {
  return Array.from({ length: count }, (_, index) => planSaga(index, runId, label, target, random));
}

function planSaga(index: number, runId: string, label: string, target: Target, random: Random): SagaPlan {
  const kind = random.weighted(MIX);
  const maybeFlaky = (): Behaviour => (random.chance(FLAKY_SHARE) ? "flaky" : "ok");
  const step = (name: string, dependsOn: string[], behaviour: Behaviour, compensated = false): StepSpecInit => ({
    name,
    action: "http",
    dependsOn,
    config: { method: "POST", url: target.url("action", behaviour, name), body: { ref: "{{vars.ref}}", step: name } },
    retryPolicy: ACTION_POLICY,
    ...(compensated
      ? {
          compensate: {
            action: "http",
            config: { method: "POST", url: target.url("compensate", maybeFlaky(), name), body: { ref: "{{vars.ref}}", undo: name } },
            retryPolicy: COMPENSATION_POLICY,
          },
        }
      : {}),
  });
  let steps: StepSpecInit[];
  let expected = SagaStatus.COMPLETED;
  let failurePolicy = FailurePolicy.HOLD;
  let skipOnFailure: string | null = null;
  switch (kind) {
    case "chain":
      steps = ["s1", "s2", "s3", "s4"].map((name, i) => step(name, i === 0 ? [] : [`s${i}`], maybeFlaky()));
      break;
    case "fanout":
      steps = [
        step("root", [], maybeFlaky()),
        ...["p1", "p2", "p3"].map((name) => step(name, ["root"], maybeFlaky())),
        step("join", ["p1", "p2", "p3"], maybeFlaky()),
      ];
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
    case "hold":
      steps = [step("a", [], maybeFlaky()), step("b", ["a"], "fail"), step("d", ["a"], maybeFlaky()), step("c", ["b", "d"], maybeFlaky())];
      skipOnFailure = "b";
      break;
  }
  const requestId = `${runId}-${index}`;
  return {
    index,
    kind,
    requestId,
    request: { name: `chaos-${kind}`, requestId, labels: { chaos: label }, vars: { ref: requestId }, failurePolicy, steps },
    expected,
    skipOnFailure,
  };
}
