import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { attemptText } from "../../src/cli/saga-view.js";
import { StepSchema, StepStatus } from "../../src/client/index.js";

const step = (status: StepStatus, retryCount: number, maxAttempts: number, compensationMax?: number) =>
  create(StepSchema, {
    name: "charge",
    action: "http",
    status,
    retryCount,
    retryPolicy: { maxAttempts },
    compensate: compensationMax === undefined ? undefined : { action: "refund", retryPolicy: { maxAttempts: compensationMax } },
  });

describe("attempt column", () => {
  it("counts attempts out of the policy's, and says so plainly once operator retries went past it", () => {
    expect(attemptText(step(StepStatus.RUNNING, 2, 3))).toBe("2/3");
    expect(attemptText(step(StepStatus.COMPLETED, 2, 1))).toBe("2 (max 1)");
    expect(attemptText(step(StepStatus.RUNNING, 5, 0))).toBe("5");
  });

  it("uses the compensation's policy while the step compensates or failed compensating", () => {
    expect(attemptText(step(StepStatus.COMPENSATING, 1, 5, 2))).toBe("1/2");
    expect(attemptText(step(StepStatus.COMPENSATION_FAILED, 2, 5, 2))).toBe("2/2");
    expect(attemptText(step(StepStatus.COMPENSATED, 1, 5, 2))).toBe("1/5");
  });
});
