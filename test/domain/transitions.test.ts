import { describe, expect, it } from "vitest";
import { DomainError } from "../../src/domain/errors.js";
import {
  OPERATION_ALLOWED_IN,
  SAGA_TRANSITIONS,
  STEP_OPERATION_ALLOWED_IN,
  STEP_TRANSITIONS,
  assertOperationAllowed,
  assertSagaTransition,
  assertStepTransition,
  canTransitionSaga,
  canTransitionStep,
  type Operation,
} from "../../src/domain/transitions.js";
import {
  ACTIVE_SAGA_STATUSES,
  RESTING_SAGA_STATUSES,
  SAGA_STATUSES,
  STEP_STATUSES,
  type SagaStatus,
  type StepStatus,
} from "../../src/domain/types.js";

/*
 * The tables as DESIGN.md §2 states them, written out independently of src so that a change to
 * either side shows up here (and in the README tables that copy them).
 */
const EXPECTED_SAGA: Record<SagaStatus, SagaStatus[]> = {
  PENDING: ["RUNNING", "CANCELLING"],
  RUNNING: ["COMPLETED", "FAILED", "COMPENSATING", "CANCELLING"],
  FAILED: ["RUNNING", "COMPENSATING", "CANCELLING"],
  COMPENSATING: ["COMPENSATED", "COMPENSATION_FAILED", "CANCELLED"],
  COMPENSATION_FAILED: ["COMPENSATING"],
  CANCELLING: ["CANCELLED", "COMPENSATION_FAILED"],
  COMPLETED: [],
  COMPENSATED: [],
  CANCELLED: [],
};

const EXPECTED_STEP: Record<StepStatus, StepStatus[]> = {
  PENDING: ["RUNNING", "SKIPPED"],
  RUNNING: ["COMPLETED", "RETRY_SCHEDULED", "FAILED", "CANCELLED"],
  RETRY_SCHEDULED: ["RUNNING", "SKIPPED", "CANCELLED"],
  FAILED: ["PENDING", "RUNNING", "SKIPPED"],
  COMPLETED: ["COMPENSATING"],
  COMPENSATING: ["COMPENSATED", "COMPENSATION_FAILED"],
  // RollbackSaga retries a given-up compensation in place (its downstream was already settled).
  COMPENSATION_FAILED: ["COMPENSATING"],
  SKIPPED: [],
  COMPENSATED: [],
  CANCELLED: [],
};

const EXPECTED_OPERATIONS: Record<Operation, SagaStatus[]> = {
  RetrySaga: ["FAILED"],
  RollbackSaga: ["FAILED", "COMPENSATION_FAILED"],
  CancelSaga: ["PENDING", "RUNNING", "FAILED"],
  RetryStep: ["FAILED"],
  SkipStep: ["PENDING", "RUNNING", "FAILED"],
  DeleteSaga: ["COMPLETED", "FAILED", "COMPENSATED", "COMPENSATION_FAILED", "CANCELLED"],
};

const TERMINAL_SAGA: SagaStatus[] = ["COMPLETED", "COMPENSATED", "CANCELLED"];
const TERMINAL_STEP: StepStatus[] = ["SKIPPED", "COMPENSATED", "CANCELLED"];

const pairs = <T extends string>(all: readonly T[]): [T, T][] => all.flatMap((from) => all.map((to): [T, T] => [from, to]));
const sorted = <T extends string>(xs: readonly T[]): T[] => [...xs].sort();
/** The message names `status` as a whole word (COMPENSATION_FAILED does not count as FAILED). */
const names = (message: string, status: string): boolean => new RegExp(`(^|[^A-Z_])${status}($|[^A-Z_])`).test(message);

function reachable<T extends string>(table: Readonly<Record<T, readonly T[]>>, from: T): Set<T> {
  const seen = new Set<T>([from]);
  const todo = [from];
  while (todo.length > 0) {
    for (const next of table[todo.pop()!]) {
      if (!seen.has(next)) {
        seen.add(next);
        todo.push(next);
      }
    }
  }
  return seen;
}

describe("saga transition table", () => {
  it("has exactly one row per saga status, with known, distinct, non-self targets", () => {
    expect(sorted(Object.keys(SAGA_TRANSITIONS))).toEqual(sorted(SAGA_STATUSES));
    for (const from of SAGA_STATUSES) {
      const targets = SAGA_TRANSITIONS[from];
      expect(new Set(targets).size, from).toBe(targets.length);
      expect(targets, from).not.toContain(from);
      for (const to of targets) expect(SAGA_STATUSES, `${from} -> ${to}`).toContain(to);
    }
  });

  it("matches the transitions DESIGN.md §2 describes", () => {
    for (const from of SAGA_STATUSES) expect(sorted(SAGA_TRANSITIONS[from]), from).toEqual(sorted(EXPECTED_SAGA[from]));
  });

  it.each(pairs(SAGA_STATUSES))("%s -> %s is allowed exactly when the table lists it", (from, to) => {
    const allowed = EXPECTED_SAGA[from].includes(to);
    expect(canTransitionSaga(from, to)).toBe(allowed);
    expect(canTransitionSaga(from, to)).toBe(SAGA_TRANSITIONS[from].includes(to));
    if (allowed) {
      expect(() => assertSagaTransition(from, to)).not.toThrow();
    } else {
      let err: unknown;
      try {
        assertSagaTransition(from, to);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DomainError);
      expect((err as DomainError).reason).toBe("FAILED_PRECONDITION");
      expect((err as DomainError).message).toContain(`${from} -> ${to}`);
      expect((err as DomainError).metadata.state).toBe(from);
    }
  });

  it.each(TERMINAL_SAGA)("terminal %s has no way out", (terminal) => {
    expect(SAGA_TRANSITIONS[terminal]).toEqual([]);
    for (const to of SAGA_STATUSES) expect(canTransitionSaga(terminal, to), `${terminal} -> ${to}`).toBe(false);
    expect(RESTING_SAGA_STATUSES.has(terminal)).toBe(true);
    expect(ACTIVE_SAGA_STATUSES).not.toContain(terminal);
  });

  it("terminal statuses are exactly those without a way out", () => {
    expect(sorted(SAGA_STATUSES.filter((s) => SAGA_TRANSITIONS[s].length === 0))).toEqual(sorted(TERMINAL_SAGA));
  });

  it("reaches every status from PENDING, and a terminal status from every status", () => {
    expect(sorted([...reachable(SAGA_TRANSITIONS, "PENDING")])).toEqual(sorted(SAGA_STATUSES));
    for (const s of SAGA_STATUSES) {
      const ends = [...reachable(SAGA_TRANSITIONS, s)].filter((x) => TERMINAL_SAGA.includes(x));
      expect(ends.length, `${s} can reach a terminal status`).toBeGreaterThan(0);
    }
  });

  it("splits the statuses into active (driven) and resting, with no overlap", () => {
    for (const s of SAGA_STATUSES) {
      expect(RESTING_SAGA_STATUSES.has(s) !== ACTIVE_SAGA_STATUSES.includes(s), s).toBe(true);
    }
  });
});

describe("step transition table", () => {
  it("has exactly one row per step status, with known, distinct, non-self targets", () => {
    expect(sorted(Object.keys(STEP_TRANSITIONS))).toEqual(sorted(STEP_STATUSES));
    for (const from of STEP_STATUSES) {
      const targets = STEP_TRANSITIONS[from];
      expect(new Set(targets).size, from).toBe(targets.length);
      expect(targets, from).not.toContain(from);
      for (const to of targets) expect(STEP_STATUSES, `${from} -> ${to}`).toContain(to);
    }
  });

  it("matches the transitions DESIGN.md §2 describes", () => {
    for (const from of STEP_STATUSES) expect(sorted(STEP_TRANSITIONS[from]), from).toEqual(sorted(EXPECTED_STEP[from]));
  });

  it.each(pairs(STEP_STATUSES))("%s -> %s is allowed exactly when the table lists it", (from, to) => {
    const allowed = EXPECTED_STEP[from].includes(to);
    expect(canTransitionStep(from, to)).toBe(allowed);
    expect(canTransitionStep(from, to)).toBe(STEP_TRANSITIONS[from].includes(to));
    if (allowed) {
      expect(() => assertStepTransition("pay", from, to)).not.toThrow();
    } else {
      let err: unknown;
      try {
        assertStepTransition("pay", from, to);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DomainError);
      expect((err as DomainError).reason).toBe("FAILED_PRECONDITION");
      expect((err as DomainError).message).toContain("pay");
      expect((err as DomainError).message).toContain(`${from} -> ${to}`);
      expect((err as DomainError).metadata.state).toBe(from);
    }
  });

  it.each(TERMINAL_STEP)("terminal %s has no way out", (terminal) => {
    for (const to of STEP_STATUSES) expect(canTransitionStep(terminal, to), `${terminal} -> ${to}`).toBe(false);
  });

  it("terminal statuses are exactly those without a way out", () => {
    expect(sorted(STEP_STATUSES.filter((s) => STEP_TRANSITIONS[s].length === 0))).toEqual(sorted(TERMINAL_STEP));
  });

  it("reaches every status from PENDING", () => {
    expect(sorted([...reachable(STEP_TRANSITIONS, "PENDING")])).toEqual(sorted(STEP_STATUSES));
  });
});

describe("operations", () => {
  const operations = Object.keys(EXPECTED_OPERATIONS) as Operation[];

  it("OPERATION_ALLOWED_IN lists exactly the operations and statuses DESIGN.md §2 describes", () => {
    expect(sorted(Object.keys(OPERATION_ALLOWED_IN))).toEqual(sorted(operations));
    for (const op of operations) expect(sorted(OPERATION_ALLOWED_IN[op]), op).toEqual(sorted(EXPECTED_OPERATIONS[op]));
  });

  it("terminal sagas accept nothing but DeleteSaga", () => {
    for (const op of operations) {
      for (const s of TERMINAL_SAGA) {
        expect((OPERATION_ALLOWED_IN[op] as readonly SagaStatus[]).includes(s), `${op} in ${s}`).toBe(op === "DeleteSaga");
      }
    }
  });

  it("DeleteSaga applies exactly to resting sagas, never to one a replica is driving", () => {
    expect(sorted(OPERATION_ALLOWED_IN.DeleteSaga)).toEqual(sorted([...RESTING_SAGA_STATUSES]));
  });

  const cases = operations.flatMap((op) => SAGA_STATUSES.map((s): [Operation, SagaStatus] => [op, s]));

  it.each(cases)("%s in a %s saga", (op, status) => {
    if (EXPECTED_OPERATIONS[op].includes(status)) {
      expect(() => assertOperationAllowed(op, status)).not.toThrow();
      return;
    }
    let err: unknown;
    try {
      assertOperationAllowed(op, status);
    } catch (e) {
      err = e;
    }
    expect(err, `${op} must be refused in ${status}`).toBeInstanceOf(DomainError);
    const e = err as DomainError;
    expect(e.reason).toBe("FAILED_PRECONDITION");
    expect(names(e.message, status), `"${e.message}" names ${status}`).toBe(true);
    expect(e.message).toContain(op);
    expect(e.metadata.state).toBe(status);
  });

  it("step operations accept exactly the step statuses they apply to", () => {
    expect(sorted(Object.keys(STEP_OPERATION_ALLOWED_IN))).toEqual(["RetryStep", "SkipStep"]);
    expect(sorted(STEP_OPERATION_ALLOWED_IN.RetryStep)).toEqual(["FAILED"]);
    expect(sorted(STEP_OPERATION_ALLOWED_IN.SkipStep)).toEqual(sorted(["FAILED", "PENDING", "RETRY_SCHEDULED"]));
    // Each accepted status must be able to take the transition the operation makes.
    for (const s of STEP_OPERATION_ALLOWED_IN.RetryStep) expect(canTransitionStep(s, "RUNNING"), s).toBe(true);
    for (const s of STEP_OPERATION_ALLOWED_IN.SkipStep) expect(canTransitionStep(s, "SKIPPED"), s).toBe(true);
  });

  it("the word-boundary check used above really distinguishes FAILED from COMPENSATION_FAILED", () => {
    expect(names("saga is COMPENSATION_FAILED (needs PENDING)", "FAILED")).toBe(false);
    expect(names("saga is FAILED (needs PENDING)", "FAILED")).toBe(true);
  });
});
