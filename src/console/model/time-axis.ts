import { rowBars, type Timeline } from "./timeline.js";

/** A tick on the axis: `ms` after the chart's start, drawn at `at` (0 to 1 across the chart). */
export interface Tick {
  readonly ms: number;
  readonly at: number;
}

/** A stretch where nothing ran or waited, drawn narrow: from `from` to `to` (0 to 1). */
export interface AxisGap {
  readonly from: number;
  readonly to: number;
  readonly idleMs: number;
}

/** Where times fall across the chart. */
export interface TimeAxis {
  /** The position of a time, 0 (the chart's start) to 1 (its end). */
  at(ms: number): number;
  readonly ticks: readonly Tick[];
  readonly gaps: readonly AxisGap[];
  /** Equal for two axes that place every time alike, so a view can keep the old one and skip redrawing. */
  readonly key: string;
}

/** How much of the chart's width each cut-short gap takes. */
const GAP_SHARE = 0.04;
/** A quiet stretch is cut short only when it is this long, and this share of the span… */
const GAP_MIN_MS = 2000;
const GAP_MIN_SHARE = 0.2;
/** Ticks closer than this (a share of the width) to the previous one or to a gap are left out. */
const TICK_MIN_SPACING = 0.06;

const STEPS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000, 43_200_000, 86_400_000];

interface Segment {
  startMs: number;
  endMs: number;
  from: number;
  to: number;
  gap: boolean;
}

/**
 * The axis of a timeline. With `cutIdle`, long stretches where nothing ran or waited (a saga
 * held FAILED for an hour before an operator skipped a step) are drawn narrow, so the seconds
 * of work on either side stay readable; the chart says how long each cut stretch was. Ticks are
 * at a round interval (1, 2, 5 × a power of ten, or whole seconds, minutes, hours).
 */
export function timeAxis(timeline: Timeline, options: { cutIdle: boolean; maxTicks?: number } = { cutIdle: false }): TimeAxis {
  const maxTicks = options.maxTicks ?? 8;
  const segments = layOut(timeline, options.cutIdle);
  const busyMs = segments.filter((s) => !s.gap).reduce((n, s) => n + (s.endMs - s.startMs), 0);
  const interval = tickInterval(Math.max(busyMs, 1), maxTicks);
  const gaps = segments.filter((s) => s.gap);
  const crowded = (at: number, previous: Tick | undefined) =>
    (previous !== undefined && at - previous.at < TICK_MIN_SPACING) ||
    gaps.some((g) => at > g.from - TICK_MIN_SPACING / 2 && at < g.to + TICK_MIN_SPACING / 2);
  const ticks: Tick[] = [];
  for (const seg of segments) {
    if (seg.gap) continue;
    const first = Math.ceil((seg.startMs - timeline.startMs) / interval) * interval;
    for (let ms = first; timeline.startMs + ms <= seg.endMs; ms += interval) {
      const at = position(segments, timeline.startMs + ms);
      if (ms === 0 || !crowded(at, ticks.at(-1))) ticks.push({ ms, at });
    }
  }
  return {
    key: segments.map((g) => `${g.startMs}-${g.endMs}${g.gap ? "g" : ""}`).join(","),
    at: (ms) => position(segments, ms),
    ticks,
    gaps: gaps.map((s) => ({ from: s.from, to: s.to, idleMs: s.endMs - s.startMs })),
  };
}

/** The smallest round interval that keeps the ticks of `spanMs` at most `maxTicks`. */
function tickInterval(spanMs: number, maxTicks: number): number {
  const fits = (interval: number) => Math.floor(spanMs / interval) + 1 <= maxTicks;
  return STEPS_MS.find(fits) ?? Math.ceil(spanMs / (maxTicks - 1) / 86_400_000) * 86_400_000;
}

function layOut(timeline: Timeline, cutIdle: boolean): Segment[] {
  const { startMs, endMs } = timeline;
  const span = endMs - startMs;
  const idle = cutIdle ? idleStretches(timeline).filter(([a, b]) => b - a >= GAP_MIN_MS && b - a >= span * GAP_MIN_SHARE) : [];
  const idleMs = idle.reduce((n, [a, b]) => n + (b - a), 0);
  const busyShare = 1 - idle.length * GAP_SHARE;
  const perMs = busyShare / Math.max(span - idleMs, 1);
  const segments: Segment[] = [];
  let cursor = startMs;
  let at = 0;
  const push = (from: number, to: number, gap: boolean) => {
    const width = gap ? GAP_SHARE : (to - from) * perMs;
    segments.push({ startMs: from, endMs: to, from: at, to: at + width, gap });
    at += width;
  };
  for (const [a, b] of idle) {
    if (a > cursor) push(cursor, a, false);
    push(a, b, true);
    cursor = b;
  }
  if (cursor < endMs || segments.length === 0) push(cursor, endMs, false);
  return segments;
}

/** The stretches inside the chart that no bar covers, in order. */
function idleStretches(timeline: Timeline): [number, number][] {
  const covered = timeline.rows
    .flatMap((r) => [...rowBars(r).map((b) => [b.startMs, b.endMs] as const), ...r.marks.map((m) => [m.atMs, m.atMs] as const)])
    .sort((x, y) => x[0] - y[0]);
  const idle: [number, number][] = [];
  let reached = timeline.startMs;
  for (const [a, b] of covered) {
    if (a > reached) idle.push([reached, a]);
    reached = Math.max(reached, b);
  }
  // Past `reachedMs` is a live chart's room for now to move into, not idle time.
  if (timeline.reachedMs > reached) idle.push([reached, timeline.reachedMs]);
  return idle;
}

function position(segments: readonly Segment[], ms: number): number {
  const seg = segments.find((s) => ms <= s.endMs) ?? segments.at(-1)!;
  if (ms <= seg.startMs) return seg.from;
  if (ms >= seg.endMs) return seg.to;
  return seg.from + ((ms - seg.startMs) / (seg.endMs - seg.startMs)) * (seg.to - seg.from);
}
