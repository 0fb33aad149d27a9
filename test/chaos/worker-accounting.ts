/**
 * Holds each resting saga of the worker scenario to what the workers' journals say they did, on
 * top of the shared accounting (accounting.ts, fed the journals' handler starts as its calls).
 * The question is exactly-once *recording* over at-least-once delivery:
 *
 * Failures (each must stay 0):
 * - recordedTwice: more than one result event (completed, failed or retry scheduled) for one
 *   (step, phase, attempt), or more than one STEP_COMPLETED (COMPENSATION_COMPLETED) for a step.
 * - acceptedTwice: the server answered OK without already_recorded to two result calls for one
 *   (step, phase, attempt): two reports both took effect.
 * - resultWithoutReport: a result event a worker must have sent (a completion, a FLAKY or PLANNED
 *   failure) without a journaled result call of that kind for that attempt. (STEP_CANCELLED is
 *   the server's own verdict, reported or not; the shared accounting checks it closes an attempt.)
 * - foreignOutput: a completed step whose output nonce is not one a handler of that step,
 *   phase and attempt returned and then sent.
 *
 * Reported: handler starts, re-deliveries, results refused as stale, results answered
 * already_recorded, results sent and never answered (the process died or its path went silent).
 */
import { Code } from "@connectrpc/connect";
import { EventType, StepStatus, type SagaEvent } from "../../src/client/index.js";
import type { SagaRecord } from "./accounting.js";
import type { Phase, TargetCall } from "./target.js";
import { statusFor } from "./target.js";
import type { JournalEntry, ReportMethod, SagaJournal } from "./worker-journal.js";

export const WORKER_FAILURES = ["recordedTwice", "acceptedTwice", "resultWithoutReport", "foreignOutput"] as const;
export type WorkerFailure = (typeof WORKER_FAILURES)[number];

export interface WorkerAccounting {
  sagas: number;
  failures: Record<WorkerFailure, number>;
  handlerStarts: number;
  redeliveries: number;
  staleRefusals: number;
  alreadyRecorded: number;
  unanswered: number;
  samples: string[];
}

export function newWorkerAccounting(): WorkerAccounting {
  return {
    sagas: 0,
    failures: Object.fromEntries(WORKER_FAILURES.map((f) => [f, 0])) as Record<WorkerFailure, number>,
    handlerStarts: 0,
    redeliveries: 0,
    staleRefusals: 0,
    alreadyRecorded: 0,
    unanswered: 0,
    samples: [],
  };
}

/** The journals' handler starts as the calls accounting.ts checks (a start is the "call"). */
export function journalCalls(entries: readonly JournalEntry[]): TargetCall[] {
  return entries.flatMap((e) =>
    e.ev === "start"
      ? [{
          phase: e.phase,
          behaviour: e.behaviour,
          step: e.step,
          sagaId: e.saga,
          headerStep: e.step,
          attempt: e.attempt,
          idempotencyKey: e.key,
          replica: e.instance,
          receivedAtMs: e.at,
          status: statusFor(e.behaviour, e.attempt),
          delayMs: 0,
        }]
      : [],
  );
}

/** Failure kinds only a worker's FailTask can produce (the others come from sweeps and timeouts). */
const WORKER_KINDS = new Set(["FLAKY", "PLANNED"]);

export function accountWorkerSaga(acc: WorkerAccounting, r: SagaRecord, j: SagaJournal | undefined): void {
  acc.sagas++;
  const id = r.saga.id;
  const journal = j ?? { starts: [], ends: [], sent: [], answered: [] };
  const fail = (f: WorkerFailure, detail: string) => {
    acc.failures[f]++;
    if (acc.samples.length < 20) acc.samples.push(`${f}: saga ${id}: ${detail}`);
  };
  const stepIdx = new Map(r.saga.steps.map((s, i) => [s.name, i]));
  const attemptKey = (idx: number, phase: Phase, attempt: number) => `${idx}|${phase}|${attempt}`;
  const name = (key: string) => {
    const [idx, phase, attempt] = key.split("|");
    return `${r.saga.steps[Number(idx)]?.name ?? idx} ${phase} attempt ${attempt}`;
  };

  acc.handlerStarts += journal.starts.length;
  acc.redeliveries += journal.starts.filter((s) => s.delivery > 1).length;
  for (const a of journal.answered) {
    if (a.code === Code.FailedPrecondition) acc.staleRefusals++;
    if (a.code === "OK" && a.alreadyRecorded) acc.alreadyRecorded++;
  }
  const answeredKeys = new Set(journal.answered.map((a) => `${a.pid}|${a.stepIdx}|${a.phase}|${a.attempt}|${a.delivery}|${a.method}`));
  acc.unanswered += journal.sent.filter((s) => !answeredKeys.has(`${s.pid}|${s.stepIdx}|${s.phase}|${s.attempt}|${s.delivery}|${s.method}`)).length;

  // Two result calls for one attempt that both took effect.
  const accepted = new Map<string, number>();
  for (const a of journal.answered) {
    if (a.code !== "OK" || a.alreadyRecorded) continue;
    const key = attemptKey(a.stepIdx, a.phase, a.attempt);
    accepted.set(key, (accepted.get(key) ?? 0) + 1);
  }
  for (const [key, n] of accepted) if (n > 1) fail("acceptedTwice", `${n} result calls for ${name(key)} answered OK, not already_recorded`);

  // Results in the history: at most one per attempt, one completion per step and phase, each
  // one a worker sent backed by its call.
  const results = new Map<string, SagaEvent[]>();
  const completions = new Map<string, number>();
  const sentBy = (key: string, method: ReportMethod) =>
    journal.sent.some((s) => attemptKey(s.stepIdx, s.phase, s.attempt) === key && s.method === method);
  for (const e of r.history) {
    const role = resultRole(e);
    if (role === null) continue;
    const idx = stepIdx.get(e.step) ?? -1;
    const key = attemptKey(idx, role.phase, e.attempt);
    results.set(key, [...(results.get(key) ?? []), e]);
    if (role.method === "complete") {
      const sp = `${e.step} ${role.phase}`;
      completions.set(sp, (completions.get(sp) ?? 0) + 1);
    }
    const workerSent = role.method === "complete" || WORKER_KINDS.has(e.errorKind);
    if (workerSent && !sentBy(key, role.method)) {
      fail("resultWithoutReport", `${EventType[e.type]} of ${name(key)}${e.errorKind ? ` (${e.errorKind})` : ""} without a ${role.method} call in any journal`);
    }
  }
  for (const [key, events] of results) {
    if (events.length > 1) fail("recordedTwice", `${name(key)} has ${events.length} results: ${events.map((e) => `#${e.sequence} ${EventType[e.type]}`).join(", ")}`);
  }
  for (const [sp, n] of completions) if (n > 1) fail("recordedTwice", `${sp} completed ${n} times`);

  // A completed step's output is what one handler of its last attempt returned and sent.
  for (const [idx, step] of r.saga.steps.entries()) {
    const completedStep = [StepStatus.COMPLETED, StepStatus.COMPENSATING, StepStatus.COMPENSATED, StepStatus.COMPENSATION_FAILED].includes(step.status);
    if (!completedStep || !step.output) continue;
    const nonce = step.output["nonce"];
    const end = journal.ends.find((e) => e.step === step.name && e.phase === "action" && e.outcome === "ok" && e.nonce === nonce);
    const sent = end && journal.sent.some((s) => s.pid === end.pid && s.stepIdx === idx && s.phase === "action" && s.attempt === end.attempt && s.delivery === end.delivery && s.method === "complete");
    if (!sent) fail("foreignOutput", `step ${step.name} output ${JSON.stringify(step.output)} matches no handler that returned it and sent it`);
  }
}

function resultRole(e: SagaEvent): { phase: Phase; method: "complete" | "fail" } | null {
  switch (e.type) {
    case EventType.STEP_COMPLETED: return { phase: "action", method: "complete" };
    case EventType.STEP_RETRY_SCHEDULED:
    case EventType.STEP_FAILED: return { phase: "action", method: "fail" };
    case EventType.COMPENSATION_COMPLETED: return { phase: "compensate", method: "complete" };
    case EventType.COMPENSATION_RETRY_SCHEDULED:
    case EventType.COMPENSATION_FAILED: return { phase: "compensate", method: "fail" };
    default: return null;
  }
}
