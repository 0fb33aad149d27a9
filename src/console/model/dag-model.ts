import { graphlib, layout } from "@dagrejs/dagre";
import { StepStatus, type Saga, type Step } from "../../gen/saga/v1/saga_pb.js";
import type { StepRound } from "./saga-live.js";
import { stepStatusLook, type Tone } from "./status.js";

/**
 * One node of a DAG as the console draws it. Both a running saga (with statuses) and a definition
 * version (without) reduce to this, so one view draws both.
 */
export interface DagStep {
  name: string;
  action: string;
  dependsOn: readonly string[];
  status?: StepStatus;
  /**
   * Attempts started so far in the current round (of the action, or of the compensation while
   * compensating); unset when none has started in it yet.
   */
  attempt?: number;
  /** Attempts allowed for what `attempt` counts (per round). */
  maxAttempts?: number;
  /** The overall attempt number, set when earlier rounds (RetrySaga, RetryStep, rollback) made some. */
  overallAttempt?: number;
  hasCompensation?: boolean;
  running?: boolean;
  /** 1 for the first step whose compensation started, 2 for the next…: the undo order as it happened. */
  compensationOrder?: number;
}

/** Node size in SVG units; the view draws text to fit it, dagre spaces nodes by it. */
export const NODE_WIDTH = 184;
export const NODE_HEIGHT = 58;

export interface Point {
  readonly x: number;
  readonly y: number;
}

/** A node's box, top-left corner first (dagre gives centres; SVG wants corners). */
export interface NodeBox {
  readonly name: string;
  readonly x: number;
  readonly y: number;
}

export interface DagEdge {
  readonly from: string;
  readonly to: string;
  readonly points: readonly Point[];
}

export interface DagLayout {
  readonly nodes: ReadonlyMap<string, NodeBox>;
  readonly edges: readonly DagEdge[];
  readonly width: number;
  readonly height: number;
}

/**
 * A string that changes only when the graph's shape does (names and edges, not statuses), so the
 * view lays out once per shape: a saga's steps change status hundreds of times, never shape.
 */
export function structureKey(steps: readonly Pick<DagStep, "name" | "dependsOn">[]): string {
  return steps.map((s) => `${s.name}<${s.dependsOn.join(",")}`).join("\n");
}

/**
 * Above this many steps the layout trades a little tidiness for time: dagre's network-simplex
 * ranking and its extra ordering passes took ~560 ms for the 200-step mesh of the page benchmark
 * (test/bench/console-sagas.ts) in Node; tight-tree ranking without them ~130 ms, same ranks.
 * (The small `edgesep` matters more for looks: dagre's default, 20, spread that mesh to 4,900
 * units high; 4 keeps it near 2,100, with edges half as steep.)
 */
const LARGE_DAG = 80;

/**
 * Lays the DAG out left to right with dagre. Dependencies on names that are not in `steps` are
 * ignored (a hidden step's edges are rewired by `visibleSteps` before this is called).
 */
export function layoutDag(steps: readonly Pick<DagStep, "name" | "dependsOn">[]): DagLayout {
  const large = steps.length > LARGE_DAG;
  const g = new graphlib.Graph({ multigraph: false });
  g.setGraph({ rankdir: "LR", nodesep: 14, edgesep: 4, ranksep: 56, marginx: 16, marginy: 16, ranker: large ? "tight-tree" : "network-simplex" });
  g.setDefaultEdgeLabel(() => ({}));
  const names = new Set(steps.map((s) => s.name));
  for (const s of steps) g.setNode(s.name, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const s of steps) {
    for (const dep of s.dependsOn) if (names.has(dep) && dep !== s.name) g.setEdge(dep, s.name);
  }
  layout(g, { disableOptimalOrderHeuristic: large });

  const nodes = new Map<string, NodeBox>();
  for (const s of steps) {
    const n = g.node(s.name) as { x: number; y: number };
    nodes.set(s.name, { name: s.name, x: n.x - NODE_WIDTH / 2, y: n.y - NODE_HEIGHT / 2 });
  }
  const edges: DagEdge[] = g.edges().map((e) => ({
    from: e.v,
    to: e.w,
    points: ((g.edge(e) as { points?: Point[] }).points ?? []).map((p) => ({ x: p.x, y: p.y })),
  }));
  const label = g.graph() as { width?: number; height?: number };
  return { nodes, edges, width: label.width ?? 0, height: label.height ?? 0 };
}

/**
 * An SVG path through an edge's points: straight ends, rounded bends (quadratic curves through
 * the midpoints), so long edges through dummy nodes read as one smooth line.
 */
export function edgePath(points: readonly Point[]): string {
  const [first, ...rest] = points;
  if (!first) return "";
  if (rest.length < 2) return `M${first.x},${first.y}` + rest.map((p) => ` L${p.x},${p.y}`).join("");
  let d = `M${first.x},${first.y}`;
  for (let i = 0; i < rest.length - 1; i++) {
    const p = rest[i]!;
    const q = rest[i + 1]!;
    d += ` Q${p.x},${p.y} ${(p.x + q.x) / 2},${(p.y + q.y) / 2}`;
  }
  const last = rest[rest.length - 1]!;
  return d + ` L${last.x},${last.y}`;
}

/** Statuses "Hide completed" takes away: finished and nothing left to look at. */
export function isSettledDone(status: StepStatus | undefined): boolean {
  return status === StepStatus.COMPLETED || status === StepStatus.SKIPPED;
}

/**
 * The steps left when completed ones are hidden, each depending on its nearest visible
 * ancestors (through any chain of hidden ones), so the graph keeps its order instead of falling
 * apart into islands.
 */
export function visibleSteps(steps: readonly DagStep[], hideCompleted: boolean): DagStep[] {
  if (!hideCompleted) return [...steps];
  const byName = new Map(steps.map((s) => [s.name, s]));
  const hidden = (name: string) => isSettledDone(byName.get(name)?.status);
  const memo = new Map<string, readonly string[]>();
  // The visible ancestors reached through `name` when `name` itself is hidden.
  const throughHidden = (name: string, path: Set<string>): readonly string[] => {
    const known = memo.get(name);
    if (known) return known;
    if (path.has(name)) return []; // a cycle: definitions refuse them, but never loop on bad input
    path.add(name);
    const out = new Set<string>();
    for (const dep of byName.get(name)?.dependsOn ?? []) {
      if (!byName.has(dep)) continue;
      if (hidden(dep)) for (const a of throughHidden(dep, path)) out.add(a);
      else out.add(dep);
    }
    path.delete(name);
    const result = [...out];
    memo.set(name, result);
    return result;
  };
  return steps
    .filter((s) => !hidden(s.name))
    .map((s) => {
      const deps = new Set<string>();
      for (const dep of s.dependsOn) {
        if (!byName.has(dep)) continue;
        if (hidden(dep)) for (const a of throughHidden(dep, new Set())) deps.add(a);
        else deps.add(dep);
      }
      return { ...s, dependsOn: [...deps] };
    });
}

/** The tone a node is drawn in; a definition's step (no status) is neutral. */
export function stepTone(step: Pick<DagStep, "status">): Tone {
  return step.status === undefined ? "idle" : stepStatusLook(step.status).tone;
}

/** Which tones need an operator's eyes first, most urgent first. */
const FOCUS_ORDER: readonly Tone[] = ["failed", "active", "undoing", "waiting"];

/**
 * The step a large graph's first view centres on: the first failed one, else the first running
 * (or compensating), else the first waiting for a retry; undefined when nothing is happening.
 */
export function focusStep(steps: readonly DagStep[]): string | undefined {
  for (const tone of FOCUS_ORDER) {
    const hit = steps.find((s) => s.status !== undefined && stepTone(s) === tone);
    if (hit) return hit.name;
  }
  return undefined;
}

const COMPENSATION_STATUSES = new Set([StepStatus.COMPENSATING, StepStatus.COMPENSATED, StepStatus.COMPENSATION_FAILED]);

/** Whether the node shows its undo (compensation) rather than its action. */
export function isCompensationStatus(status: StepStatus | undefined): boolean {
  return status !== undefined && COMPENSATION_STATUSES.has(status);
}

/** What attempt n/m counts for a step in this status: the action's budget, or the compensation's. */
function attemptBudget(step: Step): number | undefined {
  const policy = isCompensationStatus(step.status) ? step.compensate?.retryPolicy : step.retryPolicy;
  return policy?.maxAttempts || undefined;
}

/** A step's attempt as the budget counts it: within the current round, beside the overall number. */
export interface RoundAttempt {
  /** Attempts started in the current round; 0 when none has yet (just reset, or pending). */
  readonly inRound: number;
  /** Step.retry_count: attempts of this phase over all rounds. */
  readonly overall: number;
  /** Attempts made before this round (0 in the first). */
  readonly roundStart: number;
  /** Attempts allowed per round, when known. */
  readonly max: number | undefined;
  /** Whether these are compensation attempts. */
  readonly compensation: boolean;
}

/**
 * Step.retry_count keeps counting across RetrySaga, RetryStep and rollback rounds while
 * max_attempts is per round, so "n/m" subtracts the round's start (from `stepRounds`).
 */
export function roundAttempt(step: Step, round: StepRound | undefined): RoundAttempt {
  const compensation = isCompensationStatus(step.status);
  const overall = step.retryCount;
  // A round of the other phase says nothing here (a compensation counts from 0 again).
  const start = round && round.compensation === compensation ? Math.min(round.start, overall) : 0;
  return { inRound: overall - start, overall, roundStart: start, max: attemptBudget(step), compensation };
}

/**
 * "Attempt 1 of 3 (4th overall)": the budget is per round, the overall number what the target's
 * idempotency keys and the History's "#4 overall" count. "None yet" rather than "0 of 3".
 */
export function roundAttemptText(a: RoundAttempt): string {
  const of = a.max ? ` of ${a.max}` : "";
  if (a.inRound <= 0) {
    const before = a.roundStart > 0 ? ` (${a.roundStart} in earlier rounds)` : "";
    return `None yet${a.max ? `, ${a.max} allowed` : ""}${before}`;
  }
  return `${a.inRound}${of}${a.roundStart > 0 ? ` (${ordinal(a.overall)} overall)` : ""}`;
}

function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? "th" : (["th", "st", "nd", "rd"][n % 10] ?? "th");
  return `${n}${suffix}`;
}

const NO_ROUNDS: ReadonlyMap<string, StepRound> = new Map();

/**
 * A saga's steps as DAG nodes. `compensationOrder` (from the history; see saga-live.ts) numbers
 * the undo order, and `rounds` (saga-live.ts `stepRounds`) where each step's round of attempts
 * started, which the snapshot alone cannot tell.
 */
export function dagStepsFromSaga(
  saga: Saga,
  compensationOrder: ReadonlyMap<string, number> = new Map(),
  rounds: ReadonlyMap<string, StepRound> = NO_ROUNDS,
): DagStep[] {
  return saga.steps.map((step) => {
    const order = compensationOrder.get(step.name);
    const attempt = roundAttempt(step, rounds.get(step.name));
    return {
      name: step.name,
      action: step.action,
      dependsOn: step.dependsOn,
      status: step.status,
      ...(attempt.inRound > 0 ? { attempt: attempt.inRound } : {}),
      maxAttempts: attempt.max,
      ...(attempt.roundStart > 0 ? { overallAttempt: attempt.overall } : {}),
      hasCompensation: !!step.compensate?.action,
      running: step.status === StepStatus.RUNNING || step.status === StepStatus.COMPENSATING,
      ...(order !== undefined ? { compensationOrder: order } : {}),
    };
  });
}
