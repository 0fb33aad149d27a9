import { useMemo, useState } from "preact/hooks";
import type { Saga, SagaEvent } from "../../gen/saga/v1/saga_pb.js";
import { clockText, durationText } from "../model/duration-text.js";
import { stepStatusLook } from "../model/status.js";
import { timeAxis, type TimeAxis } from "../model/time-axis.js";
import { buildTimeline, type BarKind, type TimelineBar, type TimelineMark } from "../model/timeline.js";
import "./history.css";

const KIND_LABEL: Record<BarKind, string> = {
  attempt: "attempt",
  wait: "wait before the next attempt",
  compensation: "compensation",
  "compensation-wait": "wait before the next compensation attempt",
};

/**
 * The saga's attempts on a time axis: one row per step, a bar per attempt, hatched waits between
 * attempts, compensations in purple with a dashed edge, and ticks for operator acts. Positions are
 * percentages of the span, so the chart needs no measuring and follows the page's width. Hovering
 * a bar shows what happened, when, and for how long. `now` moves the open bars of a live saga.
 * Long stretches where nothing ran (a saga held FAILED until an operator acted) are cut short
 * unless the operator asks for true proportions.
 */
export function TimelineView(props: { saga: Saga; events: readonly SagaEvent[]; now: number }) {
  const { saga, events, now } = props;
  const timeline = useMemo(() => buildTimeline(saga, events, now), [saga, events, now]);
  const [cutIdle, setCutIdle] = useState(true);
  const axis = useMemo(() => timeAxis(timeline, { cutIdle }), [timeline, cutIdle]);
  const ticks = axis.ticks;
  const span = timeline.endMs - timeline.startMs;
  const ran = timeline.rows.some((r) => r.bars.length > 0);

  return (
    <section class="timeline" data-testid="timeline" aria-label="Timeline">
      <div class="timeline-head">
        <span>
          Started {clockText(timeline.startMs)} · {durationText(span)}
          {timeline.live ? " so far" : ""}
        </span>
        <label class="timeline-cut">
          <input type="checkbox" checked={cutIdle} onChange={(e) => setCutIdle(e.currentTarget.checked)} />
          Cut idle time
        </label>
        <Legend />
      </div>
      {!ran ? (
        <p class="muted timeline-empty">No step has started yet.</p>
      ) : (
        <div class="timeline-grid">
          <div class="timeline-axis-label" />
          <div class="timeline-axis">
            {ticks.map((t) => (
              <span class="timeline-tick" style={{ left: `${t.at * 100}%` }} key={t.ms}>
                {t.ms === 0 ? "0" : `+${durationText(t.ms)}`}
              </span>
            ))}
            {axis.gaps.map((g) => (
              <span class="timeline-gap-label" style={{ left: `${((g.from + g.to) / 2) * 100}%` }} key={g.from} title={`Nothing ran for ${durationText(g.idleMs)}`}>
                ⋯ {durationText(g.idleMs)} ⋯
              </span>
            ))}
          </div>
          {timeline.rows.map((row) => {
            const look = stepStatusLook(row.status);
            return [
              <div class="timeline-name" title={`${row.step}: ${look.label}`} key={`n-${row.step}`} data-timeline-step={row.step}>
                <span class={`timeline-dot tone-${look.tone}`} aria-hidden="true" />
                {row.step}
              </div>,
              <div class="timeline-track" key={`t-${row.step}`}>
                {ticks.map((t) => (
                  <span class="timeline-gridline" style={{ left: `${t.at * 100}%` }} key={t.ms} aria-hidden="true" />
                ))}
                {axis.gaps.map((g) => (
                  <span class="timeline-gap" style={{ left: `${g.from * 100}%`, width: `${(g.to - g.from) * 100}%` }} key={`g${g.from}`} aria-hidden="true" />
                ))}
                {row.bars.map((bar, i) => (
                  <Bar bar={bar} step={row.step} axis={axis} key={i} />
                ))}
                {row.marks.map((mark, i) => (
                  <Mark mark={mark} step={row.step} axis={axis} key={`m${i}`} />
                ))}
              </div>,
            ];
          })}
          {timeline.live && <NowLine axis={axis} now={now} />}
        </div>
      )}
    </section>
  );
}

function position(axis: TimeAxis, ms: number): number {
  return axis.at(ms) * 100;
}

function Bar(props: { bar: TimelineBar; step: string; axis: TimeAxis }) {
  const { bar, step, axis } = props;
  const left = position(axis, bar.startMs);
  const width = position(axis, bar.endMs) - left;
  const end = bar.open ? (bar.kind.endsWith("wait") ? `due ${clockText(bar.endMs)}` : "now") : clockText(bar.endMs);
  const title = `${step} · ${KIND_LABEL[bar.kind]} · ${bar.outcome}\n${clockText(bar.startMs)} → ${end} (${durationText(bar.endMs - bar.startMs)}${bar.open ? ", still going" : ""})`;
  return (
    <span
      class={`timeline-bar bar-${bar.kind} tone-${bar.tone}${bar.open ? " bar-open" : ""}`}
      style={{ left: `${left}%`, width: `${width}%` }}
      title={title}
      data-bar-kind={bar.kind}
    />
  );
}

function Mark(props: { mark: TimelineMark; step: string; axis: TimeAxis }) {
  const { mark, step, axis } = props;
  return (
    <span
      class={`timeline-mark mark-${mark.type}`}
      style={{ left: `${position(axis, mark.atMs)}%` }}
      title={`${step} · ${mark.label}\n${clockText(mark.atMs)}`}
    />
  );
}

/** Where `now` is, across every row of a live saga. */
function NowLine(props: { axis: TimeAxis; now: number }) {
  const at = Math.min(100, Math.max(0, position(props.axis, props.now)));
  return (
    <div class="timeline-now-lane" aria-hidden="true">
      <span class="timeline-now" style={{ left: `${at}%` }} />
    </div>
  );
}

function Legend() {
  return (
    <span class="timeline-legend" aria-label="Legend">
      <span><i class="timeline-bar bar-attempt tone-done" /> attempt</span>
      <span><i class="timeline-bar bar-attempt tone-failed" /> failed attempt</span>
      <span><i class="timeline-bar bar-wait tone-waiting" /> wait</span>
      <span><i class="timeline-bar bar-compensation tone-undone" /> compensation</span>
      <span><i class="timeline-mark" /> operator / engine act</span>
    </span>
  );
}
