import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { DefinitionState, EventType, SagaStatus, StepStatus, type SagaEvent } from "../client/index.js";
import type { CliContext } from "./context.js";

/** `FAILED` for SAGA_STATUS_FAILED: the enum value names without their prefix, as users say them. */
export function sagaStatusName(status: SagaStatus): string {
  return SagaStatus[status] ?? String(status);
}

export function stepStatusName(status: StepStatus): string {
  return StepStatus[status] ?? String(status);
}

export function definitionStateName(state: DefinitionState): string {
  return DefinitionState[state] ?? String(state);
}

export function eventTypeName(type: EventType): string {
  return EventType[type] ?? String(type);
}

/** Green for done, red for failed, yellow for moving: the colour says whether to look. */
export function colorStatus(ctx: CliContext, name: string): string {
  const c = ctx.colors;
  if (/^(COMPLETED|ACTIVE)$/.test(name)) return c.green(name);
  if (/FAILED|DISABLED/.test(name)) return c.red(c.bold(name));
  if (/COMPENSAT|CANCEL|DEPRECATED|RETRY/.test(name)) return c.yellow(name);
  if (/RUNNING|SKIPPED/.test(name)) return c.cyan(name);
  return c.dim(name);
}

/** Compact durations: 850ms, 12.3s, 4m05s, 2h10m. */
export function formatDuration(ms: number): string {
  if (ms < 0) ms = 0;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes}m${String(Math.floor((ms % 60_000) / 1000)).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}

export function toDate(ts: Timestamp | undefined): Date | undefined {
  return ts === undefined ? undefined : timestampDate(ts);
}

/** ISO time without the date noise: `2026-12-06 14:03:05Z`. */
export function formatTime(ts: Timestamp | undefined): string {
  const date = toDate(ts);
  return date === undefined ? "" : `${date.toISOString().slice(0, 19).replace("T", " ")}Z`;
}

/** `in 3.2s` / `2.0s ago`, against `now`. */
export function formatRelative(ts: Timestamp | undefined, now: number): string {
  const date = toDate(ts);
  if (date === undefined) return "";
  const delta = date.getTime() - now;
  return delta >= 0 ? `in ${formatDuration(delta)}` : `${formatDuration(-delta)} ago`;
}

/**
 * `3.4s ago`: how long ago `ts` was, against `now`. A time slightly ahead of `now` (the server's
 * clock runs ahead of this machine's) reads `0ms ago`, never a puzzling `in 120ms`.
 */
export function formatAge(ts: Timestamp | undefined, now: number): string {
  const date = toDate(ts);
  return date === undefined ? "" : `${formatDuration(now - date.getTime())} ago`;
}

/** What happened, in words: the event type's name, with compensation and operator acts marked. */
function eventWhat(event: SagaEvent): string {
  const type = eventTypeName(event.type).replace(/^STEP_/, "");
  if (event.type === EventType.SAGA_STATUS_CHANGED) return `saga ${sagaStatusName(event.sagaStatus)}`;
  if (event.type === EventType.SAGA_CREATED) return "saga CREATED";
  return type;
}

/** Step names are padded to this, so the columns of most histories line up. */
const STEP_COLUMN = 14;

/**
 * One readable line per event for `saga events` and watches off a terminal: time, step, what,
 * attempt, and the error or the operator's reason. Every field is on the line, so `grep` works.
 */
export function eventLine(ctx: CliContext, event: SagaEvent): string {
  const time = toDate(event.time)?.toISOString().slice(11, 23) ?? "";
  const parts = [`#${event.sequence}`.padEnd(5), time, (event.step === "" ? "-" : event.step).padEnd(STEP_COLUMN), eventWhat(event)];
  if (event.attempt > 0) parts.push(`attempt ${event.attempt}`);
  const next = toDate(event.nextAttemptTime);
  const at = toDate(event.time);
  if (next !== undefined && at !== undefined) parts.push(`retry in ${formatDuration(next.getTime() - at.getTime())}`);
  if (event.error !== "") parts.push(ctx.colors.red(`error: ${event.error}`));
  if (event.tokenName !== "") parts.push(`by ${event.tokenName}`);
  if (event.reason !== "") parts.push(`reason: ${event.reason}`);
  return parts.join("  ");
}
