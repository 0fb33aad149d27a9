import { Component } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { Saga, SagaEvent } from "../../gen/saga/v1/saga_pb.js";
import { clockText, durationText } from "../model/duration-text.js";
import { stepStatusLook } from "../model/status.js";
import { timeAxis, type TimeAxis } from "../model/time-axis.js";
import { TimelineBuilder, type BarKind, type TimelineBar, type TimelineMark, type TimelineRow } from "../model/timeline.js";
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
 *
 * Built to stay cheap on a busy saga: new events are read once, a live chart rescales only now
 * and then, and the bars that ended are redrawn only when the axis changed.
 */
export function TimelineView(props: { saga: Saga; events: readonly SagaEvent[]; now: number }) {
  const { saga, events, now } = props;
  const [cutIdle, setCutIdle] = useState(true);
  const builder = useMemo(() => new TimelineBuilder(), []);
  const timeline = useMemo(() => builder.update(saga, events, now), [builder, saga, events, now]);
  const axis = useStableAxis(timeAxis(timeline, { cutIdle }));
  const ran = timeline.rows.some((r) => r.done.length > 0 || r.open);
  const scroller = useRef<HTMLDivElement>(null);
  const shown = useVisibleRows(scroller, timeline.rows.length, ran);
  const rows = timeline.rows.slice(shown.first, shown.last);

  return (
    <section class="timeline" data-testid="timeline" aria-label="Timeline">
      <div class="timeline-head">
        <span>
          Started {clockText(timeline.startMs)} · {durationText(timeline.reachedMs - timeline.startMs)}
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
        <div class="timeline-scroll" ref={scroller}>
          <div class="timeline-grid">
            <div class="timeline-axis-label" />
            <div class="timeline-axis">
              {axis.ticks.map((t) => (
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
            <AxisLines axis={axis} />
            {shown.first > 0 && <div class="timeline-spacer" style={{ height: `${shown.first * ROW_PX}px` }} />}
            {rows.map((row) => (
              <RowView row={row} axis={axis} key={row.step} />
            ))}
            {shown.last < timeline.rows.length && <div class="timeline-spacer" style={{ height: `${(timeline.rows.length - shown.last) * ROW_PX}px` }} />}
            {timeline.live && <NowLine axis={axis} now={now} />}
          </div>
        </div>
      )}
    </section>
  );
}

/** The height of a row, as history.css draws it (.timeline-name, .timeline-track). */
const ROW_PX = 24;
/** Rows drawn beyond each edge of the scrolled view, so a quick scroll shows no blank. */
const OVERSCAN = 12;

/**
 * The rows inside the chart's scrolled view (plus a margin): only those are in the DOM, so a
 * 500-step saga costs what 40 rows cost. Rows have a fixed height, so no measuring is needed.
 */
function useVisibleRows(scroller: { current: HTMLDivElement | null }, count: number, mounted: boolean): { first: number; last: number } {
  const [view, setView] = useState({ top: 0, height: 30 * ROW_PX });
  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const update = () => setView({ top: el.scrollTop, height: el.clientHeight });
    update();
    el.addEventListener("scroll", update, { passive: true });
    const resize = new ResizeObserver(update);
    resize.observe(el);
    return () => {
      el.removeEventListener("scroll", update);
      resize.disconnect();
    };
  }, [scroller, mounted]);
  const first = Math.max(0, Math.floor(view.top / ROW_PX) - OVERSCAN);
  const last = Math.min(count, Math.ceil((view.top + view.height) / ROW_PX) + OVERSCAN);
  return { first, last: Math.max(first, last) };
}

/** The previous axis while the new one places everything alike, so unchanged rows are skipped. */
function useStableAxis(axis: TimeAxis): TimeAxis {
  const kept = useRef(axis);
  if (kept.current.key !== axis.key) kept.current = axis;
  return kept.current;
}

const percent = (axis: TimeAxis, ms: number) => axis.at(ms) * 100;

/** One step's name and track; redrawn only when its row or the axis is a new object. */
class RowView extends Component<{ row: TimelineRow; axis: TimeAxis }> {
  override shouldComponentUpdate(next: { row: TimelineRow; axis: TimeAxis }): boolean {
    return next.row !== this.props.row || next.axis !== this.props.axis;
  }

  override render() {
    const { row, axis } = this.props;
    const look = stepStatusLook(row.status);
    return (
      <>
        <div class="timeline-name" title={`${row.step}: ${look.label}`} data-timeline-step={row.step}>
          <span class={`timeline-dot tone-${look.tone}`} aria-hidden="true" />
          {row.step}
        </div>
        <div class="timeline-track">
          <DoneBars bars={row.done} step={row.step} axis={axis} />
          {row.open && <Bar bar={row.open} step={row.step} axis={axis} />}
          {row.marks.map((mark, i) => (
            <Mark mark={mark} step={row.step} axis={axis} key={`m${i}`} />
          ))}
        </div>
      </>
    );
  }
}

/** The bars that ended: the bulk of a busy row, redrawn only when one more ends or the axis moves. */
class DoneBars extends Component<{ bars: readonly TimelineBar[]; step: string; axis: TimeAxis }> {
  override shouldComponentUpdate(next: { bars: readonly TimelineBar[]; axis: TimeAxis }): boolean {
    return next.bars !== this.props.bars || next.axis !== this.props.axis;
  }

  override render() {
    const { bars, step, axis } = this.props;
    return (
      <>
        {bars.map((bar, i) => (
          <Bar bar={bar} step={step} axis={axis} key={i} />
        ))}
      </>
    );
  }
}

function Bar(props: { bar: TimelineBar; step: string; axis: TimeAxis }) {
  const { bar, step, axis } = props;
  const left = percent(axis, bar.startMs);
  const width = percent(axis, bar.endMs) - left;
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
    <span class={`timeline-mark mark-${mark.type}`} style={{ left: `${percent(axis, mark.atMs)}%` }} title={`${step} · ${mark.label}\n${clockText(mark.atMs)}`} />
  );
}

/** The tick lines and cut stretches, drawn once across every row rather than once per row. */
function AxisLines(props: { axis: TimeAxis }) {
  const { axis } = props;
  return (
    <div class="timeline-lines" aria-hidden="true">
      {axis.ticks.map((t) => (
        <span class="timeline-gridline" style={{ left: `${t.at * 100}%` }} key={t.ms} />
      ))}
      {axis.gaps.map((g) => (
        <span class="timeline-gap" style={{ left: `${g.from * 100}%`, width: `${(g.to - g.from) * 100}%` }} key={`g${g.from}`} />
      ))}
    </div>
  );
}

/** Where `now` is, across every row of a live saga. */
function NowLine(props: { axis: TimeAxis; now: number }) {
  const at = Math.min(100, Math.max(0, percent(props.axis, props.now)));
  return (
    <div class="timeline-overlay" aria-hidden="true">
      <span class="timeline-now" style={{ left: `${at}%` }} />
    </div>
  );
}

function Legend() {
  return (
    <span class="timeline-legend" aria-label="Legend">
      <span>
        <i class="timeline-bar bar-attempt tone-done" /> attempt
      </span>
      <span>
        <i class="timeline-bar bar-attempt tone-failed" /> failed attempt
      </span>
      <span>
        <i class="timeline-bar bar-wait tone-waiting" /> wait
      </span>
      <span>
        <i class="timeline-bar bar-compensation tone-undone" /> compensation
      </span>
      <span>
        <i class="timeline-mark" /> operator / engine act
      </span>
    </span>
  );
}
