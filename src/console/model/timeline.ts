import { timestampMs } from "@bufbuild/protobuf/wkt";
import { EventType, StepStatus, type Saga, type SagaEvent } from "../../gen/saga/v1/saga_pb.js";
import { sagaStatusLook, type Tone } from "./status.js";

/**
 * What a bar stands for. Attempts and compensation attempts are solid; the waits between attempts
 * (backoff, or a circuit breaker holding the step) are hatched, so time spent waiting never reads
 * as time spent working.
 */
export type BarKind = "attempt" | "wait" | "compensation" | "compensation-wait";

export interface TimelineBar {
  readonly kind: BarKind;
  readonly startMs: number;
  readonly endMs: number;
  /** Still going: its end is `now` (or, for a wait, when the next attempt is due, if later). */
  readonly open: boolean;
  /** The outcome's tone (an open attempt is "active"). */
  readonly tone: Tone;
  /** The attempt number, as the events carry it (it keeps growing across retries). */
  readonly attempt: number;
  /** What happened, for the tooltip: "attempt 2 failed: …", "retry wait (backoff)". */
  readonly outcome: string;
}

/** An operator's act or an engine event worth a tick on the row (skip, reset, cancel, takeover). */
export interface TimelineMark {
  readonly atMs: number;
  readonly type: string;
  readonly label: string;
}

export interface TimelineRow {
  readonly step: string;
  readonly status: StepStatus;
  readonly bars: readonly TimelineBar[];
  readonly marks: readonly TimelineMark[];
}

export interface Timeline {
  readonly startMs: number;
  readonly endMs: number;
  /** One row per step, in the saga's definition order, including steps that never ran. */
  readonly rows: readonly TimelineRow[];
  /** Whether the saga still moves (the chart then runs up to `now`). */
  readonly live: boolean;
}

interface Open {
  kind: BarKind;
  startMs: number;
  attempt: number;
  /** For a wait: when the next attempt is due. */
  dueMs?: number;
  outcome: string;
}

/** The rows being built, one per step. */
class RowBuilder {
  readonly bars: TimelineBar[] = [];
  readonly marks: TimelineMark[] = [];
  open: Open | undefined;

  start(kind: BarKind, atMs: number, attempt: number, outcome: string, dueMs?: number): void {
    this.close(atMs);
    this.open = { kind, startMs: atMs, attempt, outcome, ...(dueMs !== undefined ? { dueMs } : {}) };
  }

  /** Ends the open bar at `atMs`; a wait keeps its own tone, an attempt takes the outcome's. */
  close(atMs: number, tone?: Tone, outcome?: string): void {
    const open = this.open;
    if (!open) return;
    const waiting = open.kind === "wait" || open.kind === "compensation-wait";
    this.bars.push({
      kind: open.kind,
      startMs: open.startMs,
      endMs: Math.max(atMs, open.startMs),
      open: false,
      tone: waiting ? "waiting" : (tone ?? "stopped"),
      attempt: open.attempt,
      outcome: waiting ? open.outcome : (outcome ?? open.outcome),
    });
    this.open = undefined;
  }

  /** Whether the open bar is one of the compensation's. */
  compensating(): boolean {
    return this.open?.kind === "compensation" || this.open?.kind === "compensation-wait";
  }
}

/**
 * The Gantt of a saga: a bar per attempt from its start to its outcome, a hatched bar for each
 * wait before the next attempt, compensation attempts as their own kind, and marks for skips,
 * resets, cancels and takeovers. Bars still open end at `now` (a wait at its due time if that is
 * later), so a live chart grows as it is redrawn. Events must be in sequence order.
 */
export function buildTimeline(saga: Saga, events: readonly SagaEvent[], now: number): Timeline {
  const builders = new Map(saga.steps.map((s) => [s.name, new RowBuilder()]));
  let firstMs: number | undefined = saga.createTime ? timestampMs(saga.createTime) : undefined;
  let lastMs = firstMs ?? now;
  for (const event of events) {
    if (!event.time) continue;
    const at = timestampMs(event.time);
    firstMs ??= at;
    lastMs = Math.max(lastMs, at);
    const row = builders.get(event.step);
    if (row) apply(row, event, at);
  }
  const live = sagaStatusLook(saga.status).live;
  const startMs = firstMs ?? now;
  // A resting saga's chart ends with its last event; a live one runs to now.
  let endMs = live ? Math.max(now, lastMs) : lastMs;
  const rows = saga.steps.map((step): TimelineRow => {
    const row = builders.get(step.name)!;
    const bars = [...row.bars];
    if (row.open) {
      const end = Math.max(live ? now : lastMs, row.open.dueMs ?? 0, row.open.startMs);
      endMs = Math.max(endMs, end);
      bars.push({ ...row.open, endMs: end, open: true, tone: openTone(row.open.kind) });
    }
    return { step: step.name, status: step.status, bars, marks: row.marks };
  });
  return { startMs, endMs: Math.max(endMs, startMs + 1), rows, live };
}

function openTone(kind: BarKind): Tone {
  if (kind === "attempt") return "active";
  if (kind === "compensation") return "undoing";
  return "waiting";
}

function apply(row: RowBuilder, e: SagaEvent, at: number): void {
  const error = e.error ? `: ${e.error}` : "";
  const due = e.nextAttemptTime ? timestampMs(e.nextAttemptTime) : undefined;
  switch (e.type) {
    case EventType.STEP_STARTED:
      row.start("attempt", at, e.attempt, `attempt ${e.attempt} running`);
      break;
    case EventType.STEP_COMPLETED:
      row.close(at, "done", `attempt ${e.attempt} completed`);
      break;
    case EventType.STEP_RETRY_SCHEDULED:
      row.close(at, "failed", `attempt ${e.attempt} failed${error}`);
      row.start("wait", at, e.attempt, "waiting to retry (backoff)", due);
      break;
    case EventType.STEP_FAILED:
      row.close(at, "failed", `attempt ${e.attempt} failed for good${error}`);
      break;
    case EventType.STEP_DEFERRED: {
      // The breaker refused the call: the attempt never ran, and the step waits for the probe time.
      const compensation = row.compensating();
      row.close(at, "waiting", `attempt not made: circuit breaker open${error}`);
      row.start(compensation ? "compensation-wait" : "wait", at, e.attempt, "waiting for the circuit breaker", due);
      break;
    }
    case EventType.COMPENSATION_STARTED:
      row.start("compensation", at, e.attempt, `compensation attempt ${e.attempt} running`);
      break;
    case EventType.COMPENSATION_COMPLETED:
      row.close(at, "undone", `compensation attempt ${e.attempt} succeeded`);
      break;
    case EventType.COMPENSATION_RETRY_SCHEDULED:
      row.close(at, "failed", `compensation attempt ${e.attempt} failed${error}`);
      row.start("compensation-wait", at, e.attempt, "waiting to retry the compensation", due);
      break;
    case EventType.COMPENSATION_FAILED:
      row.close(at, "failed", `compensation attempt ${e.attempt} failed for good${error}`);
      break;
    case EventType.STEP_CANCELLED:
      row.close(at, "stopped", `attempt ${e.attempt} cancelled${error}`);
      row.marks.push({ atMs: at, type: "STEP_CANCELLED", label: e.message || "cancelled" });
      break;
    case EventType.STEP_SKIPPED:
      row.close(at);
      row.marks.push({ atMs: at, type: "STEP_SKIPPED", label: markLabel("skipped", e) });
      break;
    case EventType.STEP_RESET:
      row.marks.push({ atMs: at, type: "STEP_RESET", label: markLabel(e.message || "reset", e) });
      break;
    case EventType.STEP_RECOVERED:
      row.marks.push({ atMs: at, type: "STEP_RECOVERED", label: e.message || "recovered" });
      break;
  }
}

function markLabel(what: string, e: SagaEvent): string {
  const who = e.tokenName ? ` by ${e.tokenName}` : "";
  const why = e.reason ? ` (${e.reason})` : "";
  return `${what}${who}${why}`;
}
