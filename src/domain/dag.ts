/**
 * The step graph. Every function here is O(V + E) (upstreamIndex: O(V + E·V/32)), so a saga at the
 * step limit validates in milliseconds; none searches paths.
 *
 * Input contract: step names are unique (a later duplicate is ignored) and a dependency naming no
 * step is ignored; validation reports both before it relies on the graph.
 */

/** The part of a step the graph needs. */
export interface DagNode {
  name: string;
  dependsOn: readonly string[];
}

interface Graph {
  names: string[];
  /** deps[i]: indices of the steps i depends on, without duplicates. */
  deps: number[][];
  index: Map<string, number>;
}

function buildGraph(steps: readonly DagNode[]): Graph {
  const index = new Map<string, number>();
  const names: string[] = [];
  const kept: DagNode[] = [];
  for (const step of steps) {
    if (index.has(step.name)) continue;
    index.set(step.name, names.length);
    names.push(step.name);
    kept.push(step);
  }
  const deps = kept.map((step) => {
    const out = new Set<number>();
    for (const dep of step.dependsOn) {
      const i = index.get(dep);
      if (i !== undefined) out.add(i);
    }
    return [...out];
  });
  return { names, deps, index };
}

/**
 * Kahn's algorithm. `order` lists every step after all of its dependencies, ties in definition
 * order. If the graph has a cycle, returns one concrete cycle instead, following "depends on" edges
 * and starting at its earliest-defined step, with that step repeated at the end (["a", "b", "a"]:
 * a depends on b, b on a), ready to print as `a -> b -> a`.
 */
export function topologicalOrder(steps: readonly DagNode[]): { order: string[] } | { cycle: string[] } {
  const graph = buildGraph(steps);
  const sorted = kahn(graph);
  if (Array.isArray(sorted)) return { order: sorted.map((i) => graph.names[i]!) };
  return { cycle: findCycle(graph.deps, sorted.waitingOn).map((i) => graph.names[i]!) };
}

/** Step indices in dependency order, or, for a cyclic graph, the in-degrees left when it stalled. */
function kahn({ names, deps }: Graph): number[] | { waitingOn: number[] } {
  const waitingOn = deps.map((d) => d.length);
  const dependents: number[][] = names.map(() => []);
  deps.forEach((d, i) => d.forEach((dep) => dependents[dep]!.push(i)));

  const queue: number[] = [];
  waitingOn.forEach((count, i) => count === 0 && queue.push(i));
  for (let head = 0; head < queue.length; head++) {
    for (const next of dependents[queue[head]!]!) {
      if (--waitingOn[next]! === 0) queue.push(next);
    }
  }
  return queue.length === names.length ? queue : { waitingOn };
}

/**
 * After Kahn stops, every step left (waitingOn > 0) has a dependency that is also left, so walking
 * from any of them along such dependencies must revisit a step within V moves: that loop is a cycle.
 */
function findCycle(deps: number[][], waitingOn: number[]): number[] {
  const left = (i: number) => waitingOn[i]! > 0;
  const seenAt = new Map<number, number>();
  const walk: number[] = [];
  let current = waitingOn.findIndex((count) => count > 0);
  while (!seenAt.has(current)) {
    seenAt.set(current, walk.length);
    walk.push(current);
    current = deps[current]!.find(left)!;
  }
  const loop = walk.slice(seenAt.get(current));
  const first = loop.indexOf(loop.reduce((a, b) => Math.min(a, b)));
  const rotated = [...loop.slice(first), ...loop.slice(0, first)];
  return [...rotated, rotated[0]!];
}

/** Every step `name` depends on, directly or transitively (empty for an unknown name). */
export function upstreamOf(steps: readonly DagNode[], name: string): Set<string> {
  const graph = buildGraph(steps);
  return reachable(graph, name, graph.deps);
}

/** Every step that depends on `name`, directly or transitively (empty for an unknown name). */
export function downstreamOf(steps: readonly DagNode[], name: string): Set<string> {
  const graph = buildGraph(steps);
  const dependents: number[][] = graph.names.map(() => []);
  graph.deps.forEach((d, i) => d.forEach((dep) => dependents[dep]!.push(i)));
  return reachable(graph, name, dependents);
}

function reachable(graph: Graph, name: string, edges: number[][]): Set<string> {
  const start = graph.index.get(name);
  const seen = new Set<number>();
  if (start === undefined) return new Set();
  const stack = [start];
  while (stack.length > 0) {
    for (const next of edges[stack.pop()!]!) {
      if (!seen.has(next)) {
        seen.add(next);
        stack.push(next);
      }
    }
  }
  return new Set([...seen].map((i) => graph.names[i]!));
}

/** Constant-time "is `candidate` upstream of `step`" over a whole acyclic graph. */
export interface UpstreamIndex {
  isUpstream(candidate: string, step: string): boolean;
}

/**
 * Precomputes every step's upstream set as a bit set, in topological order, so checking all the
 * templates of a saga costs O(V + E·V/32) in total rather than a graph walk per template (which a
 * dense 1,000-step graph would turn into ~10^9 steps). Returns null for a cyclic graph, where
 * "upstream" has no meaning.
 */
export function upstreamIndex(steps: readonly DagNode[]): UpstreamIndex | null {
  const graph = buildGraph(steps);
  const order = kahn(graph);
  if (!Array.isArray(order)) return null;
  const { deps, index } = graph;
  const words = Math.ceil(index.size / 32);
  const bits = new Uint32Array(index.size * words);
  const has = (step: number, candidate: number) => (bits[step * words + (candidate >>> 5)]! & (1 << (candidate & 31))) !== 0;
  for (const i of order) {
    for (const d of deps[i]!) {
      // Already there means it came in with a dependency's full set, which holds d's set too.
      if (has(i, d)) continue;
      bits[i * words + (d >>> 5)]! |= 1 << (d & 31);
      for (let w = 0; w < words; w++) bits[i * words + w]! |= bits[d * words + w]!;
    }
  }
  return {
    isUpstream(candidate, step) {
      const c = index.get(candidate);
      const s = index.get(step);
      return c !== undefined && s !== undefined && has(s, c);
    },
  };
}
