import { describe, expect, it } from "vitest";
import { SagaStatus, StepStatus } from "../../src/gen/saga/v1/saga_pb.js";
import { sagaActionAvailability, sagaActionEffects, stepActionAvailability, stepActionEffects, undoOrder } from "../../src/console/model/action-rules.js";
import { sagaOf } from "./saga-fixtures.js";

const failed = () => {
  const saga = sagaOf(SagaStatus.FAILED, [
    { name: "reserve", status: StepStatus.COMPLETED, compensate: true },
    { name: "charge", status: StepStatus.FAILED },
    { name: "ship", status: StepStatus.PENDING },
  ]);
  saga.steps[1]!.dependsOn = ["reserve"];
  saga.steps[2]!.dependsOn = ["charge"];
  saga.maxRetries = 3;
  return saga;
};

describe("sagaActionAvailability", () => {
  it("allows each action in the statuses the server accepts it in", () => {
    const table = [SagaStatus.PENDING, SagaStatus.RUNNING, SagaStatus.FAILED, SagaStatus.COMPLETED, SagaStatus.COMPENSATING, SagaStatus.COMPENSATION_FAILED, SagaStatus.CANCELLING, SagaStatus.CANCELLED].map((status) => {
      const saga = { ...failed(), status };
      return [SagaStatus[status], ...(["retrySaga", "rollback", "cancel"] as const).map((a) => sagaActionAvailability(saga, a).ok)];
    });
    expect(table).toEqual([
      ["PENDING", false, false, true],
      ["RUNNING", false, false, true],
      ["FAILED", true, true, true],
      ["COMPLETED", false, false, false],
      ["COMPENSATING", false, false, false],
      ["COMPENSATION_FAILED", false, true, false],
      ["CANCELLING", false, false, false],
      ["CANCELLED", false, false, false],
    ]);
  });

  it("says why not, naming the statuses and the retry budget", () => {
    const completed = { ...failed(), status: SagaStatus.COMPLETED };
    expect(sagaActionAvailability(completed, "rollback")).toEqual({ ok: false, why: "Roll back applies to a FAILED or COMPENSATION_FAILED saga; this one is COMPLETED." });
    const spent = { ...failed(), retryCount: 3 };
    expect(sagaActionAvailability(spent, "retrySaga")).toEqual({ ok: false, why: "The saga has used 3 of its 3 retries." });
  });
});

describe("stepActionAvailability", () => {
  it("needs both the step's and the saga's status to fit", () => {
    const saga = failed();
    const [reserve, charge, ship] = saga.steps;
    expect(stepActionAvailability(saga, charge!, "retryStep").ok).toBe(true);
    expect(stepActionAvailability(saga, charge!, "skipStep").ok).toBe(true);
    expect(stepActionAvailability(saga, ship!, "skipStep").ok).toBe(true);
    expect(stepActionAvailability(saga, ship!, "retryStep")).toEqual({ ok: false, why: "Retry step applies to a FAILED step; ship is PENDING." });
    expect(stepActionAvailability(saga, reserve!, "skipStep").ok).toBe(false);
    const compensating = { ...saga, status: SagaStatus.COMPENSATING };
    expect(stepActionAvailability(compensating, charge!, "skipStep")).toEqual({
      ok: false,
      why: "Skip step applies to a PENDING or RUNNING or FAILED saga; this one is COMPENSATING.",
    });
    const running = { ...saga, status: SagaStatus.RUNNING };
    const retrying = { ...charge!, status: StepStatus.RETRY_SCHEDULED };
    expect(stepActionAvailability(running, retrying, "skipStep").ok).toBe(true);
    expect(stepActionAvailability(running, charge!, "retryStep").ok).toBe(false);
  });
});

describe("undoOrder", () => {
  it("puts every step after the steps downstream of it, whatever the definition order", () => {
    const saga = sagaOf(SagaStatus.FAILED, ["ship", "charge", "reserve", "audit"].map((name) => ({ name, status: StepStatus.COMPLETED })));
    saga.steps[0]!.dependsOn = ["charge"];
    saga.steps[1]!.dependsOn = ["reserve"];
    const order = undoOrder(saga).map((s) => s.name);
    expect(order.indexOf("ship")).toBeLessThan(order.indexOf("charge"));
    expect(order.indexOf("charge")).toBeLessThan(order.indexOf("reserve"));
    expect(order).toHaveLength(4);
  });
});

describe("effects", () => {
  it("names the steps an action touches and how the saga ends", () => {
    const saga = failed();
    expect(sagaActionEffects(saga, "retrySaga")).toEqual([
      "Resumes the saga from its failed step: charge, each with a fresh budget of attempts. Completed steps do not run again.",
      "This is retry 1 of the 3 the saga allows.",
    ]);
    expect(sagaActionEffects(saga, "cancel")).toContain("The completed steps with a compensation are compensated, each after the steps that depend on it: reserve.");
    const withAudit = failed();
    withAudit.steps.push({ ...withAudit.steps[0]!, name: "audit", compensate: undefined });
    expect(sagaActionEffects(withAudit, "rollback")).toContain("Completed steps without a compensation stay as they are: audit.");
    expect(stepActionEffects(saga, saga.steps[1]!, "skipStep")).toEqual([
      "Marks step charge SKIPPED without running it.",
      "Its dependents (ship) read the stand-in output below as steps.charge.output.",
      "The saga resumes (RUNNING).",
    ]);
    // Skipping a pending step leaves the failed one holding the saga.
    expect(stepActionEffects(saga, saga.steps[2]!, "skipStep")).toContain("The saga stays FAILED: charge failed too.");
  });
});
