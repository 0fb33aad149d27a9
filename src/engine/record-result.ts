import { createHash } from "node:crypto";
import { DomainError } from "../domain/errors.js";
import { attemptFailed, type SagaInput } from "../domain/state-machine.js";
import type { RecordedResult, TaskResult } from "../domain/task-writes.js";
import type { Json, JsonObject } from "../domain/types.js";
import type { TaskRef, TaskRow, TaskStore } from "../store/task-store.js";
import type { Engine } from "./engine.js";

/** What a worker reports about a task. */
export type WorkerReport =
  | { kind: "completed"; output: Json | undefined }
  | { kind: "failed"; errorKind: string; message: string; retryable: boolean; retryAfterMs: number }
  | { kind: "cancelled"; message: string };

export interface ReportOutcome {
  /** The same report had been recorded before (a retried call). */
  alreadyRecorded: boolean;
  /** The task as it was found, before the report. */
  task: TaskRow;
  /** Set when the report was recorded as something else than it said (an output that is not an object). */
  recordedAs?: { errorKind: string; message: string };
}

/** The error kind of an attempt whose output was not a JSON object. */
export const OUTPUT_NOT_OBJECT = "OUTPUT_NOT_OBJECT";

function stale(ref: TaskRef, why: string): DomainError {
  return new DomainError("STALE_ATTEMPT", `task of step #${ref.stepIdx} attempt ${ref.attempt} (delivery ${ref.delivery}) is no longer current: ${why}; nothing was recorded`, [], {
    saga_id: ref.sagaId,
  });
}

const isObject = (v: Json | undefined): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The result path of worker reports, on any replica: checks the report against the task row it
 * names (same delivery, still in flight), turns it into the saga input, and applies it through
 * Engine.applyResult, which records it on the task row in the same commit. A report that already
 * was recorded answers already_recorded; one for a superseded attempt or delivery is
 * STALE_ATTEMPT and changes nothing.
 */
export async function recordWorkerReport(engine: Engine, tasks: TaskStore, ref: TaskRef, report: WorkerReport): Promise<ReportOutcome> {
  const row = await tasks.find(ref);
  if (!row) throw stale(ref, "no such task (the saga may have been deleted)");
  const digest = reportDigest(ref, report);
  if (row.state === "done") return settledOutcome(row, row, ref, digest);
  if (row.delivery !== ref.delivery) throw stale(ref, `it was offered again (delivery ${row.delivery})`);
  if (row.state === "queued") throw stale(ref, "it went back to the queue (its worker was lost or did not acknowledge it)");
  const { input, result, recordedAs } = toInput(row, report);
  const recorded: RecordedResult = { key: ref, result, digest };
  if (await engine.applyResult(row.sagaId, input, recorded)) return { alreadyRecorded: false, task: row, ...(recordedAs ? { recordedAs } : {}) };
  // Not applied: a concurrent copy of this report got there first, or the step moved on.
  const after = await tasks.find(ref);
  if (after?.state === "done") return settledOutcome(row, after, ref, digest);
  throw stale(ref, "its step moved on");
}

function settledOutcome(task: TaskRow, row: TaskRow, ref: TaskRef, digest: string): ReportOutcome {
  if (row.resultDigest === digest) return { alreadyRecorded: true, task };
  if (row.result === "timed_out") throw stale(ref, "the attempt timed out");
  throw stale(ref, `its attempt already ended (${row.result ?? "superseded"})`);
}

function toInput(row: TaskRow, report: WorkerReport): { input: SagaInput; result: TaskResult; recordedAs?: ReportOutcome["recordedAs"] } {
  const base = { step: row.step, attempt: row.attempt };
  const failure = (errorKind: string, error: string, retryable: boolean, retryAfterMs = 0): SagaInput =>
    attemptFailed(row.phase, { ...base, error, errorKind, retryable, retryAfterMs });
  switch (report.kind) {
    case "completed": {
      if (row.phase === "compensate") return { input: { type: "compensationSucceeded", ...base }, result: "succeeded" };
      const output = report.output === undefined || report.output === null ? {} : report.output;
      if (!isObject(output)) {
        const message = `the worker's output is not a JSON object (got ${Array.isArray(output) ? "an array" : typeof output}); a step's output must be an object`;
        return { input: failure(OUTPUT_NOT_OBJECT, message, false), result: "failed", recordedAs: { errorKind: OUTPUT_NOT_OBJECT, message } };
      }
      return { input: { type: "stepSucceeded", ...base, output }, result: "succeeded" };
    }
    case "failed":
      return { input: failure(report.errorKind || "ERROR", report.message || "the worker reported a failure", report.retryable, report.retryAfterMs), result: "failed" };
    case "cancelled":
      if (row.cancelReason !== null) {
        return { input: failure("CANCELLED", `aborted: ${row.cancelReason}${report.message ? ` (${report.message})` : ""}`, false), result: "cancelled" };
      }
      // Nobody asked: the worker gave the task up (e.g. it is shutting down); another attempt may run.
      return { input: failure("WORKER_CANCELLED", report.message || "the worker stopped the task", true), result: "cancelled" };
  }
}

/** Names a report exactly (with the delivery it answers), so a repeated call is recognised. */
function reportDigest(ref: TaskRef, report: WorkerReport): string {
  return createHash("sha256").update(canonicalJson([ref.delivery, report as unknown as Json])).digest("base64url");
}

/** JSON with object keys sorted: a protobuf Struct (a map) carries no key order. */
function canonicalJson(value: Json | undefined): string {
  if (value === undefined) return "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
