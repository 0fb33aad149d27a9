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
  /** The bars that ended, in order. The same array until another one ends, so a view may skip it. */
  readonly done: readonly TimelineBar[];
  /** The bar still going, if any: it moves with `now`. */
  readonly open?: TimelineBar;
  readonly marks: readonly TimelineMark[];
}

/** Every bar of a row, the open one last. */
export function rowBars(row: TimelineRow): readonly TimelineBar[] {
  return row.open ? [...row.done, row.open] : row.done;
}

export interface Timeline {
  readonly startMs: number;
  /** Where the chart ends: `reachedMs` for a resting saga; a round margin past it for a live one. */
  readonly endMs: number;
  /** The latest time drawn: now (or a wait's due time) for a live saga, its last event otherwise. */
  readonly reachedMs: number;
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

/**
 * One step's bars as events arrive. Its arrays are replaced, never changed in place, and the row
 * it last produced is handed out again while nothing changed, so a view can skip unchanged rows.
 */
class RowBuilder {
  bars: readonly TimelineBar[] = [];
  marks: readonly TimelineMark[] = [];
  open: Open | undefined;
  private last: { row: TimelineRow; bars: readonly TimelineBar[]; marks: readonly TimelineMark[]; status: StepStatus; openEnd: number | undefined } | undefined;

  start(kind: BarKind, atMs: number, attempt: number, outcome: string, dueMs?: number): void {
    this.close(atMs);
    this.open = { kind, startMs: atMs, attempt, outcome, ...(dueMs !== undefined ? { dueMs } : {}) };
  }

  /** Ends the open bar at `atMs`; a wait keeps its own tone, an attempt takes the outcome's. */
  close(atMs: number, tone?: Tone, outcome?: string): void {
    const open = this.open;
    if (!open) return;
    const waiting = open.kind === "wait" || open.kind === "compensation-wait";
    const bar: TimelineBar = {
      kind: open.kind,
      startMs: open.startMs,
      endMs: Math.max(atMs, open.startMs),
      open: false,
      tone: waiting ? "waiting" : (tone ?? "stopped"),
      attempt: open.attempt,
      outcome: waiting ? open.outcome : (outcome ?? open.outcome),
    };
    this.bars = [...this.bars, bar];
    this.open = undefined;
  }

  mark(mark: TimelineMark): void {
    this.marks = [...this.marks, mark];
  }

  /** Whether the open bar is one of the compensation's. */
  compensating(): boolean {
    return this.open?.kind === "compensation" || this.open?.kind === "compensation-wait";
  }

  /** Where the open bar ends when drawn up to `reachedMs`. */
  openEnd(reachedMs: number): number | undefined {
    return this.open ? Math.max(reachedMs, this.open.dueMs ?? 0, this.open.startMs) : undefined;
  }

  row(step: string, status: StepStatus, reachedMs: number): TimelineRow {
    const openEnd = this.openEnd(reachedMs);
    const last = this.last;
    if (last && last.bars === this.bars && last.marks === this.marks && last.status === status && last.openEnd === openEnd) return last.row;
    const open = this.open && openEnd !== undefined ? { ...this.open, endMs: openEnd, open: true, tone: openTone(this.open.kind) } : undefined;
    const row: TimelineRow = { step, status, done: this.bars, marks: this.marks, ...(open ? { open } : {}) };
    this.last = { row, bars: this.bars, marks: this.marks, status, openEnd };
    return row;
  }
}

/**
 * The Gantt of a saga: a bar per attempt from its start to its outcome, a hatched bar for each
 * wait before the next attempt, compensation attempts as their own kind, and marks for skips,
 * resets, cancels and takeovers. Bars still open end at `now` (a wait at its due time if that is
 * later). Events must be in sequence order.
 */
export function buildTimeline(saga: Saga, events: readonly SagaEvent[], now: number): Timeline {
  return new TimelineBuilder().update(saga, events, now);
}

/**
 * {@link buildTimeline} for a live page: given the same events again plus new ones (the same
 * objects first, as the page appends them) it reads only the new ones, and rows that did not
 * change are the same objects as before. A live chart ends a round margin past now, so it
 * rescales now and then rather than on every tick: between rescales only open bars move.
 */
export class TimelineBuilder {
  private builders = new Map<string, RowBuilder>();
  private seen: readonly SagaEvent[] = [];
  private steps = "";
  private firstMs: number | undefined;
  private lastMs: number | undefined;

  update(saga: Saga, events: readonly SagaEvent[], now: number): Timeline {
    this.catchUp(saga, events);
    const live = sagaStatusLook(saga.status).live;
    const startMs = this.firstMs ?? now;
    const upTo = live ? Math.max(now, this.lastMs ?? now) : (this.lastMs ?? startMs);
    let reachedMs = upTo;
    for (const builder of this.builders.values()) reachedMs = Math.max(reachedMs, builder.openEnd(upTo) ?? 0);
    const rows = saga.steps.map((step) => this.builders.get(step.name)!.row(step.name, step.status, upTo));
    const span = Math.max(reachedMs - startMs, 1);
    return { startMs, endMs: startMs + (live ? roundSpan(span) : span), reachedMs, rows, live };
  }

  private catchUp(saga: Saga, events: readonly SagaEvent[]): void {
    const steps = saga.steps.map((s) => s.name).join("\n");
    const n = this.seen.length;
    const grows = steps === this.steps && n <= events.length && (n === 0 || events[n - 1] === this.seen[n - 1]);
    if (!grows) {
      this.builders = new Map(saga.steps.map((s) => [s.name, new RowBuilder()]));
      this.steps = steps;
      this.firstMs = saga.createTime ? timestampMs(saga.createTime) : undefined;
      this.lastMs = this.firstMs;
    }
    for (let i = grows ? n : 0; i < events.length; i++) {
      const event = events[i]!;
      if (!event.time) continue;
      const at = timestampMs(event.time);
      this.firstMs ??= at;
      this.lastMs = Math.max(this.lastMs ?? at, at);
      const row = this.builders.get(event.step);
      if (row) apply(row, event, at);
    }
    this.seen = events;
  }
}

/** Round spans, each at most a third longer than the one before. */
const ROUND_SPANS = [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8];

/** The round span a live chart shows: at least a tenth more than `spanMs`, so now has room to move. */
export function roundSpan(spanMs: number): number {
  const wanted = spanMs * 1.1;
  for (let scale = 1; ; scale *= 10) {
    const fit = ROUND_SPANS.find((r) => r * scale >= wanted);
    if (fit !== undefined) return fit * scale;
  }
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
      row.mark({ atMs: at, type: "STEP_CANCELLED", label: e.message || "cancelled" });
      break;
    case EventType.STEP_SKIPPED:
      row.close(at);
      row.mark({ atMs: at, type: "STEP_SKIPPED", label: markLabel("skipped", e) });
      break;
    case EventType.STEP_RESET:
      row.mark({ atMs: at, type: "STEP_RESET", label: markLabel(e.message || "reset", e) });
      break;
    case EventType.STEP_RECOVERED:
      row.mark({ atMs: at, type: "STEP_RECOVERED", label: e.message || "recovered" });
      break;
  }
}

function markLabel(what: string, e: SagaEvent): string {
  const who = e.tokenName ? ` by ${e.tokenName}` : "";
  const why = e.reason ? ` (${e.reason})` : "";
  return `${what}${who}${why}`;
}
