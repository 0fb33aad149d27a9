/**
 * The durability checks of the fault scenarios, pure so they can be unit-tested: one saga's event
 * history (WatchSaga from sequence 0), the calls the target recorded for it, the events a live
 * watcher saw, and what the saga should have ended as. What is checked, precisely:
 *
 * Failures (each must stay 0):
 * - wrongStatus: the saga rests in another status than its plan says.
 * - historyGaps: the history's sequences are not exactly 1, 2, 3, ...
 * - liveMismatches: the events a watcher saw live (resuming across faults) differ from the
 *   history after the create's sequence (a gap, duplicate or reordering in WatchSaga).
 * - duplicates: a call for a step's action (or compensation) arrived after that step's
 *   STEP_COMPLETED (COMPENSATION_COMPLETED) was committed, i.e. completed work ran again.
 * - unaccountedCalls: a call whose (step, phase, attempt) has no STEP_STARTED
 *   (COMPENSATION_STARTED) event with that attempt number.
 * - unexplainedReruns: more calls for one (step, phase, attempt) than 1 + the number of
 *   STEP_RECOVERED events for that attempt: a re-run nobody recorded.
 * - resultsWithoutCall: an attempt result that can only come from a call (STEP_COMPLETED,
 *   COMPENSATION_COMPLETED, or a failure of kind HTTP_5XX/HTTP_4XX) without a recorded call of that
 *   attempt that got that answer: the history claims work that did not happen.
 * - unfinishedAttempts: an attempt started (or recovered) and never concluded by a result,
 *   STEP_DEFERRED or STEP_CANCELLED in a saga that rests.
 * - mismatchedResults: a result or STEP_RECOVERED for another attempt number than the one in flight.
 * - badKeys: a call whose Idempotency-Key is not `<saga id>/<step>` (`.../compensate` for a
 *   compensation) or whose X-Sagad-Step is not the step it was made for.
 * - missedCompensations: in a COMPENSATED saga, a step that completed and has a compensation but
 *   was not compensated.
 * - compensationOrder: a compensation call made before a dependent step's compensation completed.
 *
 * Reported, allowed (at-least-once by design): recoveredReruns (a same-attempt re-run after a
 * takeover, covered by STEP_RECOVERED), recoveries, deferrals (STEP_DEFERRED), failure kinds.
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { EventType, SagaStatus, StepStatus, type Saga, type SagaEvent } from "../../src/client/index.js";
import type { Phase, TargetCall } from "./target.js";

export const FAILURE_COUNTERS = [
  "wrongStatus",
  "historyGaps",
  "liveMismatches",
  "duplicates",
  "unaccountedCalls",
  "unexplainedReruns",
  "resultsWithoutCall",
  "unfinishedAttempts",
  "mismatchedResults",
  "badKeys",
  "missedCompensations",
  "compensationOrder",
] as const;
export type FailureCounter = (typeof FAILURE_COUNTERS)[number];

export interface Accounting {
  sagas: number;
  calls: number;
  failures: Record<FailureCounter, number>;
  recoveredReruns: number;
  recoveries: number;
  deferrals: number;
  /** Failure events by error kind (HTTP_5XX from flaky steps, HTTP_4XX from failing ones, ...). */
  failureKinds: Record<string, number>;
  /** The first few failures, described, for the report. */
  samples: string[];
}

export function newAccounting(): Accounting {
  return {
    sagas: 0,
    calls: 0,
    failures: Object.fromEntries(FAILURE_COUNTERS.map((c) => [c, 0])) as Record<FailureCounter, number>,
    recoveredReruns: 0,
    recoveries: 0,
    deferrals: 0,
    failureKinds: {},
    samples: [],
  };
}

export interface SagaRecord {
  saga: Saga;
  history: SagaEvent[];
  calls: TargetCall[];
  /** Events seen by the live watcher; null when the saga was not watched. */
  live: SagaEvent[] | null;
  /** The sequence CreateSaga returned (live events start after it). */
  createdSequence: bigint;
  expected: SagaStatus;
}

const MAX_SAMPLES = 20;

/** Checks one resting saga and adds what it found to `acc`. */
export function accountSaga(acc: Accounting, r: SagaRecord): void {
  acc.sagas++;
  acc.calls += r.calls.length;
  const id = r.saga.id;
  const fail = (counter: FailureCounter, detail: string) => {
    acc.failures[counter]++;
    if (acc.samples.length < MAX_SAMPLES) acc.samples.push(`${counter}: saga ${id}: ${detail}`);
  };

  if (r.saga.status !== r.expected) fail("wrongStatus", `rests ${SagaStatus[r.saga.status]}, expected ${SagaStatus[r.expected]}`);
  r.history.forEach((e, i) => {
    if (e.sequence !== BigInt(i + 1)) fail("historyGaps", `event #${i + 1} has sequence ${e.sequence}`);
  });
  if (r.live !== null) {
    const expected = r.history.filter((e) => e.sequence > r.createdSequence).map(eventKey);
    const seen = r.live.map(eventKey);
    if (expected.join() !== seen.join()) {
      const at = expected.findIndex((key, i) => key !== seen[i]);
      const from = at < 0 ? expected.length : at;
      const show = (keys: string[]) => keys.slice(from, from + 4).join(" ") || "(nothing)";
      fail("liveMismatches", `from event ${from + 1} after the create the watcher saw ${show(seen)}, the history has ${show(expected)}`);
    }
  }

  // Walk the history per (step, phase): which attempt is in flight, what concluded it.
  const open = new Map<string, number>();
  const started = new Set<string>();
  const recovered = new Map<string, number>();
  const completedAt = new Map<string, number>();
  const needsCall: { key: string; ok: (status: number) => boolean; what: string }[] = [];
  for (const e of r.history) {
    const role = roleOf(e);
    if (role === null) continue;
    const sp = `${e.step}|${role.phase}`;
    const attemptKey = `${sp}|${e.attempt}`;
    const inFlight = open.get(sp);
    switch (role.kind) {
      case "start":
        if (inFlight !== undefined) fail("mismatchedResults", `${e.step} ${role.phase} attempt ${e.attempt} started while ${inFlight} was in flight`);
        open.set(sp, e.attempt);
        started.add(attemptKey);
        break;
      case "recovered":
        acc.recoveries++;
        if (inFlight !== e.attempt) fail("mismatchedResults", `${e.step} recovered attempt ${e.attempt}, in flight: ${inFlight ?? "none"}`);
        recovered.set(attemptKey, (recovered.get(attemptKey) ?? 0) + 1);
        break;
      case "deferred":
        acc.deferrals++;
        open.delete(sp); // the breaker refused the call: the attempt is given back, not made
        break;
      case "cancelled":
        open.delete(sp);
        break;
      case "result": {
        if (inFlight !== e.attempt) fail("mismatchedResults", `${EventType[e.type]} of ${e.step} attempt ${e.attempt}, in flight: ${inFlight ?? "none"}`);
        open.delete(sp);
        if (e.errorKind) acc.failureKinds[e.errorKind] = (acc.failureKinds[e.errorKind] ?? 0) + 1;
        if (role.completed) {
          completedAt.set(sp, e.time ? timestampMs(e.time) : 0);
          needsCall.push({ key: attemptKey, ok: (s) => s >= 200 && s < 300, what: `${EventType[e.type]} ${e.step} attempt ${e.attempt}` });
        } else if (e.errorKind === "HTTP_5XX" || e.errorKind === "HTTP_4XX") {
          const low = e.errorKind === "HTTP_5XX" ? 500 : 400;
          needsCall.push({ key: attemptKey, ok: (s) => s >= low && s < low + 100, what: `${e.errorKind} of ${e.step} attempt ${e.attempt}` });
        }
        break;
      }
    }
  }
  for (const [sp, attempt] of open) fail("unfinishedAttempts", `${sp.replace("|", " ")} attempt ${attempt} never concluded`);

  const callsByAttempt = new Map<string, TargetCall[]>();
  for (const c of r.calls) {
    const key = `${c.step}|${c.phase}|${c.attempt}`;
    callsByAttempt.set(key, [...(callsByAttempt.get(key) ?? []), c]);
    const wantedKey = c.phase === "action" ? `${id}/${c.step}` : `${id}/${c.step}/compensate`;
    if (c.idempotencyKey !== wantedKey || c.headerStep !== c.step) {
      fail("badKeys", `call for ${c.step} (${c.phase}) had Idempotency-Key ${c.idempotencyKey}, X-Sagad-Step ${c.headerStep}`);
    }
    const done = completedAt.get(`${c.step}|${c.phase}`);
    if (done !== undefined && c.receivedAtMs > done) {
      fail("duplicates", `${c.step} ${c.phase} attempt ${c.attempt} called ${c.receivedAtMs - done} ms after it completed (replica ${c.replica})`);
    }
  }
  for (const [key, calls] of callsByAttempt) {
    if (!started.has(key)) {
      fail("unaccountedCalls", `${calls.length} call(s) for ${key.replaceAll("|", " ")} without a start event`);
      continue;
    }
    const allowed = 1 + (recovered.get(key) ?? 0);
    if (calls.length > allowed) fail("unexplainedReruns", `${calls.length} calls for ${key.replaceAll("|", " ")}, ${allowed - 1} STEP_RECOVERED`);
    acc.recoveredReruns += Math.min(calls.length, allowed) - 1;
  }
  for (const need of needsCall) {
    if (!(callsByAttempt.get(need.key) ?? []).some((c) => need.ok(c.status))) fail("resultsWithoutCall", `${need.what} has no matching call`);
  }

  if (r.saga.status === SagaStatus.COMPENSATED) checkCompensations(r, completedAt, fail);
}

function checkCompensations(r: SagaRecord, completedAt: Map<string, number>, fail: (c: FailureCounter, d: string) => void): void {
  for (const step of r.saga.steps) {
    if (step.compensate && completedAt.has(`${step.name}|action`) && step.status !== StepStatus.COMPENSATED) {
      fail("missedCompensations", `step ${step.name} completed but is ${StepStatus[step.status]}`);
    }
  }
  // A step is compensated only after every step depending on it was.
  for (const step of r.saga.steps) {
    const firstCall = Math.min(...r.calls.filter((c) => c.step === step.name && c.phase === "compensate").map((c) => c.receivedAtMs));
    if (!Number.isFinite(firstCall)) continue;
    for (const dependent of r.saga.steps.filter((s) => s.dependsOn.includes(step.name))) {
      const undone = completedAt.get(`${dependent.name}|compensate`);
      if (undone !== undefined && firstCall < undone) {
        fail("compensationOrder", `${step.name} compensation called ${undone - firstCall} ms before ${dependent.name}'s compensation completed`);
      }
    }
  }
}

type Role =
  | { kind: "start" | "recovered" | "deferred" | "cancelled"; phase: Phase }
  | { kind: "result"; phase: Phase; completed: boolean };

function roleOf(e: SagaEvent): Role | null {
  const compensating = e.stepStatus === StepStatus.COMPENSATING;
  switch (e.type) {
    case EventType.STEP_STARTED: return { kind: "start", phase: "action" };
    case EventType.COMPENSATION_STARTED: return { kind: "start", phase: "compensate" };
    case EventType.STEP_RECOVERED: return { kind: "recovered", phase: compensating ? "compensate" : "action" };
    case EventType.STEP_DEFERRED: return { kind: "deferred", phase: compensating ? "compensate" : "action" };
    case EventType.STEP_COMPLETED: return { kind: "result", phase: "action", completed: true };
    case EventType.STEP_RETRY_SCHEDULED:
    case EventType.STEP_FAILED: return { kind: "result", phase: "action", completed: false };
    case EventType.COMPENSATION_COMPLETED: return { kind: "result", phase: "compensate", completed: true };
    case EventType.COMPENSATION_RETRY_SCHEDULED:
    case EventType.COMPENSATION_FAILED: return { kind: "result", phase: "compensate", completed: false };
    case EventType.STEP_CANCELLED: return { kind: "cancelled", phase: "action" };
    default: return null;
  }
}

function eventKey(e: SagaEvent): string {
  return `${e.sequence}:${EventType[e.type]}${e.step ? `:${e.step}` : ""}`;
}
