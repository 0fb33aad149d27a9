import { useEffect, useId, useMemo, useRef, useState } from "preact/hooks";
import { Component, type TargetedPointerEvent, type TargetedWheelEvent } from "preact";
import {
  edgePath,
  focusStep,
  isCompensationStatus,
  isSettledDone,
  layoutDag,
  NODE_HEIGHT,
  NODE_WIDTH,
  stepTone,
  structureKey,
  visibleSteps,
  type DagLayout,
  type DagStep,
} from "../model/dag-model.js";
import { stepStatusLook } from "../model/status.js";
import "./saga.css";

/** Zoom factor and offset of the drawing inside its frame. */
interface View {
  readonly k: number;
  readonly x: number;
  readonly y: number;
}

const MIN_ZOOM = 0.05;
const MAX_ZOOM = 3;
/** A press that moves less than this (in screen pixels) is a click, not a pan. */
const CLICK_SLOP = 4;
const FRAME_MIN = 220;
const FRAME_MAX = 640;
/** Below this scale node text cannot be read; a first view of a graph that small shows its focus instead. */
const READABLE_ZOOM = 0.5;
/** The scale a focused first view uses. */
const FOCUS_ZOOM = 0.75;

/**
 * A DAG of steps: one node per step coloured by status, with zoom (wheel and buttons), pan
 * (drag), Fit and "Hide completed". The layout is computed once per graph shape, so the hundreds
 * of status changes of a busy saga only repaint nodes; panning only moves one transform.
 */
export function DagView(props: { steps: readonly DagStep[]; selected?: string; onSelect?: (name: string) => void }) {
  const { steps, selected, onSelect } = props;
  const [hideCompleted, setHideCompleted] = useState(false);
  const shown = useMemo(() => visibleSteps(steps, hideCompleted), [steps, hideCompleted]);
  const shape = structureKey(shown);
  // Keyed by shape alone: `shown` changes on every status change, the layout must not.
  const laidOut = useMemo(() => {
    const started = performance.now();
    const result = layoutDag(shown);
    // A user-timing entry, so a benchmark (or DevTools) can read what layout costs.
    performance.measure("dag-layout", { start: started, detail: { steps: shown.length } });
    return result;
  }, [shape]);
  const hasStatuses = steps.some((s) => s.status !== undefined);
  const hiddenCount = steps.length - shown.length;

  const rawId = useId();
  const frame = useRef<HTMLDivElement>(null);
  const [size, setSize] = useState({ w: 0, h: 0 });
  const [view, setView] = useState<View>({ k: 1, x: 0, y: 0 });
  // Fit by itself until the operator zooms or pans; after that, keep what they chose.
  const touched = useRef(false);
  // Small graphs get a frame their size; a large one most of the window, since it is the page's subject.
  const frameHeight = laidOut.height + 24 <= FRAME_MAX ? `${Math.round(Math.max(FRAME_MIN, laidOut.height + 24))}px` : `max(${FRAME_MAX}px, 72vh)`;
  const stepsNow = useRef(steps);
  stepsNow.current = steps;

  useEffect(() => {
    const el = frame.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setSize({ w: el.clientWidth, h: el.clientHeight }));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    if (!touched.current && size.w > 0) setView(firstView(laidOut, stepsNow.current, size.w, size.h));
  }, [laidOut, size.w, size.h]);

  const zoomBy = (factor: number, cx = size.w / 2, cy = size.h / 2) => {
    touched.current = true;
    setView((v) => zoomAround(v, factor, cx, cy));
  };
  const fit = () => {
    touched.current = false;
    setView(fitView(laidOut, size.w, size.h));
  };

  const drag = useRef<{ id: number; sx: number; sy: number; vx: number; vy: number; panning: boolean } | null>(null);
  const suppressClick = useRef(false);
  const onPointerDown = (e: TargetedPointerEvent<SVGSVGElement>) => {
    if (e.button !== 0) return;
    // A pan's pointer is captured by the svg, so its click may never reach a node to use up the
    // flag; each new press starts clean, so the next real click on a node always opens it.
    suppressClick.current = false;
    drag.current = { id: e.pointerId, sx: e.clientX, sy: e.clientY, vx: view.x, vy: view.y, panning: false };
  };
  const onPointerMove = (e: TargetedPointerEvent<SVGSVGElement>) => {
    const d = drag.current;
    if (!d || d.id !== e.pointerId) return;
    const dx = e.clientX - d.sx;
    const dy = e.clientY - d.sy;
    if (!d.panning && Math.hypot(dx, dy) < CLICK_SLOP) return;
    if (!d.panning) {
      d.panning = true;
      e.currentTarget.setPointerCapture(e.pointerId);
    }
    touched.current = true;
    setView((v) => ({ ...v, x: d.vx + dx, y: d.vy + dy }));
  };
  const onPointerUp = (e: TargetedPointerEvent<SVGSVGElement>) => {
    const d = drag.current;
    if (!d || d.id !== e.pointerId) return;
    suppressClick.current = d.panning;
    drag.current = null;
  };
  const onWheel = (e: TargetedWheelEvent<SVGSVGElement>) => {
    e.preventDefault();
    const box = e.currentTarget.getBoundingClientRect();
    zoomBy(Math.exp(-e.deltaY * 0.0015), e.clientX - box.left, e.clientY - box.top);
  };

  // Read through a ref so the memoized drawing below always calls the latest callback.
  const onSelectRef = useRef(onSelect);
  onSelectRef.current = onSelect;
  const select = useRef((name: string) => {
    if (suppressClick.current) {
      suppressClick.current = false;
      return;
    }
    onSelectRef.current?.(name);
  }).current;

  const arrowId = `dag-arrow-${rawId.replace(/[^A-Za-z0-9_-]/g, "")}`;
  // Memoized so a pan or zoom re-renders one transform, not every node.
  const drawing = useMemo(
    () => <Drawing layout={laidOut} steps={shown} selected={selected} arrowId={arrowId} onSelect={select} />,
    [laidOut, shown, selected, arrowId, select],
  );

  return (
    <div class="dag">
      <div class="dag-tools" role="toolbar" aria-label="Graph view">
        <button type="button" onClick={() => zoomBy(1.25)} aria-label="Zoom in" title="Zoom in">
          +
        </button>
        <button type="button" onClick={() => zoomBy(0.8)} aria-label="Zoom out" title="Zoom out">
          −
        </button>
        <button type="button" onClick={fit}>
          Fit
        </button>
        <span class="dag-zoom muted">{Math.round(view.k * 100)}%</span>
        {hasStatuses && (
          <label class="dag-hide">
            <input type="checkbox" checked={hideCompleted} onChange={(e) => {
                // A different graph: show it afresh rather than keep a view into the old one.
                touched.current = false;
                setHideCompleted(e.currentTarget.checked);
              }} />
            Hide completed
          </label>
        )}
        <span class="muted">
          {steps.length} step{steps.length === 1 ? "" : "s"}
          {hiddenCount > 0 && `, ${hiddenCount} completed hidden`}
        </span>
      </div>
      <div class="dag-frame" ref={frame} style={{ height: frameHeight }}>
        {shown.length === 0 ? (
          <p class="dag-empty muted">Every step has completed.</p>
        ) : (
          <svg
            class="dag-svg"
            width="100%"
            height="100%"
            onPointerDown={onPointerDown}
            onPointerMove={onPointerMove}
            onPointerUp={onPointerUp}
            onPointerCancel={onPointerUp}
            onWheel={onWheel}
          >
            <g transform={`translate(${view.x},${view.y}) scale(${view.k})`}>{drawing}</g>
          </svg>
        )}
        <RunningDots layout={laidOut} steps={shown} view={view} />
      </div>
    </div>
  );
}

/**
 * The running indicators, as HTML over the SVG rather than in it: an animated element inside an
 * SVG makes the browser repaint the whole drawing every frame (with 500 nodes that was most of
 * the page's time at 100 events/s), while an HTML element animating its opacity is composited
 * off the main thread. The layer follows the drawing's pan and zoom.
 */
function RunningDots(props: { layout: DagLayout; steps: readonly DagStep[]; view: View }) {
  const { layout, steps, view } = props;
  const running = steps.filter((s) => s.running);
  if (running.length === 0) return null;
  return (
    <div class="dag-dots" aria-hidden="true" style={{ transform: `translate(${view.x}px, ${view.y}px) scale(${view.k})` }}>
      {running.map((s) => {
        const box = layout.nodes.get(s.name);
        if (!box) return null;
        return <span key={s.name} class={`dag-running dag-tone-${stepTone(s)}`} style={{ left: `${box.x + NODE_WIDTH - 19}px`, top: `${box.y + 12}px` }} />;
      })}
    </div>
  );
}

/** The scale and offset that show the whole graph centred, never magnified beyond 100 %. */
function fitView(layout: DagLayout, w: number, h: number): View {
  if (layout.width <= 0 || layout.height <= 0 || w <= 0 || h <= 0) return { k: 1, x: 0, y: 0 };
  const k = clamp(Math.min(w / layout.width, h / layout.height, 1), MIN_ZOOM, MAX_ZOOM);
  return { k, x: (w - layout.width * k) / 2, y: (h - layout.height * k) / 2 };
}

/**
 * What the operator sees first: the whole graph when it is readable that way; otherwise the step
 * that needs them (failed, then running, then waiting; see `focusStep`) at a readable scale, as
 * a 200-step graph fitted to the frame is a texture, not a picture. "Fit" still shows it all.
 */
function firstView(layout: DagLayout, steps: readonly DagStep[], w: number, h: number): View {
  const fitted = fitView(layout, w, h);
  if (fitted.k >= READABLE_ZOOM) return fitted;
  const focus = focusStep(steps.filter((s) => layout.nodes.has(s.name)));
  const box = focus ? layout.nodes.get(focus) : undefined;
  if (!box) return fitted;
  const k = FOCUS_ZOOM;
  return { k, x: w / 2 - (box.x + NODE_WIDTH / 2) * k, y: h / 2 - (box.y + NODE_HEIGHT / 2) * k };
}

/** Zooms keeping the point under (cx, cy) in place, as maps do. */
function zoomAround(v: View, factor: number, cx: number, cy: number): View {
  const k = clamp(v.k * factor, MIN_ZOOM, MAX_ZOOM);
  const f = k / v.k;
  return { k, x: cx - (cx - v.x) * f, y: cy - (cy - v.y) * f };
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}

function Drawing(props: {
  layout: DagLayout;
  steps: readonly DagStep[];
  selected: string | undefined;
  arrowId: string;
  onSelect: (name: string) => void;
}) {
  const { layout, steps, selected, arrowId, onSelect } = props;
  const doneKey = steps
    .filter((s) => isSettledDone(s.status))
    .map((s) => s.name)
    .join("\n");
  return (
    <>
      <defs>
        <marker id={arrowId} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M0,0 L10,5 L0,10 z" class="dag-arrowhead" />
        </marker>
      </defs>
      <Edges layout={layout} doneKey={doneKey} arrowId={arrowId} />
      <g class="dag-nodes">
        {steps.map((s) => {
          const box = layout.nodes.get(s.name);
          return box ? <Node key={s.name} step={s} x={box.x} y={box.y} selected={s.name === selected} onSelect={onSelect} /> : null;
        })}
      </g>
    </>
  );
}

/** Edge paths per layout, built once: a busy saga re-renders edges often, the shapes never change. */
const pathCache = new WeakMap<DagLayout, readonly string[]>();

interface EdgesProps {
  layout: DagLayout;
  /** Names of the completed steps, one a line: edges leaving them are drawn settled. */
  doneKey: string;
  arrowId: string;
}

/** The edges, re-rendered only when the layout or the set of completed steps changes. */
class Edges extends Component<EdgesProps> {
  override shouldComponentUpdate(next: EdgesProps): boolean {
    return next.layout !== this.props.layout || next.doneKey !== this.props.doneKey || next.arrowId !== this.props.arrowId;
  }

  override render() {
    const { layout, doneKey, arrowId } = this.props;
    let paths = pathCache.get(layout);
    if (!paths) {
      paths = layout.edges.map((e) => edgePath(e.points));
      pathCache.set(layout, paths);
    }
    const done = new Set(doneKey.split("\n"));
    return (
      <g class="dag-edges">
        {layout.edges.map((e, i) => (
          <path
            key={`${e.from}>${e.to}`}
            d={paths[i]}
            class={`dag-edge${done.has(e.from) ? " dag-edge-done" : ""}`}
            marker-end={`url(#${arrowId})`}
          />
        ))}
      </g>
    );
  }
}

interface NodeProps {
  step: DagStep;
  x: number;
  y: number;
  selected: boolean;
  onSelect: (name: string) => void;
}

/**
 * One node, re-rendered only when what it shows changes: every event batch brings new step
 * objects for all steps, but only a few of them differ, and at 100 events/s diffing 200+ unchanged
 * nodes each frame is the page's main cost.
 */
class Node extends Component<NodeProps> {
  override shouldComponentUpdate(next: NodeProps): boolean {
    const a = this.props;
    return (
      a.x !== next.x ||
      a.y !== next.y ||
      a.selected !== next.selected ||
      a.onSelect !== next.onSelect ||
      !sameStep(a.step, next.step)
    );
  }

  override render() {
    return <NodeBody {...this.props} />;
  }
}

function sameStep(a: DagStep, b: DagStep): boolean {
  return (
    a === b ||
    (a.name === b.name &&
      a.action === b.action &&
      a.status === b.status &&
      a.attempt === b.attempt &&
      a.maxAttempts === b.maxAttempts &&
      a.running === b.running &&
      a.hasCompensation === b.hasCompensation &&
      a.compensationOrder === b.compensationOrder)
  );
}

function NodeBody(props: NodeProps) {
  const { step, x, y, selected, onSelect } = props;
  const tone = stepTone(step);
  const label = step.status !== undefined ? stepStatusLook(step.status).label : undefined;
  const undoing = isCompensationStatus(step.status);
  const attempts = attemptText(step);
  const title = [step.name, step.action, label, attempts && `attempt ${attempts}`].filter(Boolean).join(" · ");
  return (
    <g
      class={`dag-node dag-tone-${tone}${selected ? " dag-selected" : ""}${undoing ? " dag-undo" : ""}`}
      transform={`translate(${x},${y})`}
      data-step={step.name}
      data-status={label}
      role="button"
      // lower case: on an SVG element Preact writes the attribute, and SVG attribute names are case-sensitive
      tabindex={0}
      aria-label={title}
      aria-pressed={selected}
      onClick={() => onSelect(step.name)}
      onKeyDown={(e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          onSelect(step.name);
        }
      }}
    >
      <title>{title}</title>
      <rect class="dag-box" width={NODE_WIDTH} height={NODE_HEIGHT} rx="7" />
      <rect class="dag-stripe" width="6" height={NODE_HEIGHT} rx="3" />
      <text class="dag-name" x="16" y="22">
        {clip(step.name, 20)}
      </text>
      <text class="dag-action" x="16" y="42">
        {undoing ? "↺ undo" : clip(step.action, attempts ? 14 : 22)}
        {undoing && step.compensationOrder !== undefined && ` #${step.compensationOrder}`}
      </text>
      {attempts && (
        <text class="dag-attempt" x={NODE_WIDTH - 10} y="42" text-anchor="end">
          {attempts}
        </text>
      )}
      {!step.running && step.hasCompensation && !undoing && (
        <text class="dag-has-undo" x={NODE_WIDTH - 10} y="22" text-anchor="end">
          <title>Has a compensation</title>↺
        </text>
      )}
    </g>
  );
}

/** "2/3" once an attempt started, "–/3" for a definition's budget; nothing when unknown. */
function attemptText(step: DagStep): string | undefined {
  if (step.maxAttempts === undefined) return step.attempt ? String(step.attempt) : undefined;
  return `${step.attempt ?? "–"}/${step.maxAttempts}`;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
