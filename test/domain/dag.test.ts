import { describe, expect, it } from "vitest";
import { downstreamOf, topologicalOrder, upstreamIndex, upstreamOf } from "../../src/domain/dag.js";

const step = (name: string, ...dependsOn: string[]) => ({ name, dependsOn });
const chain = (n: number) => Array.from({ length: n }, (_, i) => step(`s${i}`, ...(i > 0 ? [`s${i - 1}`] : [])));

describe("topologicalOrder", () => {
  it("orders every step after its dependencies, ties in definition order", () => {
    const steps = [step("ship", "pay", "reserve"), step("reserve"), step("pay", "reserve"), step("notify")];
    expect(topologicalOrder(steps)).toEqual({ order: ["reserve", "notify", "pay", "ship"] });
  });

  it("returns a two-step cycle as a -> b -> a", () => {
    expect(topologicalOrder([step("a", "b"), step("b", "a")])).toEqual({ cycle: ["a", "b", "a"] });
  });

  it("returns a self-dependency as a cycle of one", () => {
    expect(topologicalOrder([step("x"), step("a", "a")])).toEqual({ cycle: ["a", "a"] });
  });

  it("finds the cycle even when the walk starts outside it, starting at its earliest step", () => {
    // "entry" is blocked by the cycle but is not part of it.
    const steps = [step("entry", "c"), step("ok"), step("b", "c"), step("c", "d"), step("d", "b")];
    expect(topologicalOrder(steps)).toEqual({ cycle: ["b", "c", "d", "b"] });
  });

  it("ignores dependencies naming no step and later duplicate names", () => {
    expect(topologicalOrder([step("a", "ghost"), step("b", "a", "a"), step("a", "b")])).toEqual({ order: ["a", "b"] });
  });

  it("sorts a 1,000-step chain (given in reverse) and finds a 1,000-step cycle quickly", () => {
    const steps = chain(1000).reverse();
    const started = performance.now();
    const sorted = topologicalOrder(steps);
    expect("order" in sorted && sorted.order[999]).toBe("s999");
    const cyclic = [step("s0", "s999"), ...chain(1000).slice(1)];
    const result = topologicalOrder(cyclic);
    expect("cycle" in result && result.cycle.length).toBe(1001);
    expect(performance.now() - started).toBeLessThan(200);
  });
});

describe("upstreamOf / downstreamOf", () => {
  const steps = [step("a"), step("b", "a"), step("c", "b"), step("d", "a"), step("e")];

  it("upstreamOf is the transitive dependencies", () => {
    expect(upstreamOf(steps, "c")).toEqual(new Set(["a", "b"]));
    expect(upstreamOf(steps, "a")).toEqual(new Set());
    expect(upstreamOf(steps, "missing")).toEqual(new Set());
  });

  it("downstreamOf is the transitive dependents", () => {
    expect(downstreamOf(steps, "a")).toEqual(new Set(["b", "c", "d"]));
    expect(downstreamOf(steps, "e")).toEqual(new Set());
  });

  it("handles a 1,000-step chain without recursion", () => {
    expect(upstreamOf(chain(1000), "s999").size).toBe(999);
    expect(downstreamOf(chain(1000), "s0").size).toBe(999);
  });
});

describe("upstreamIndex", () => {
  it("answers the same as upstreamOf for every pair", () => {
    const steps = [step("a"), step("b", "a"), step("c", "b"), step("d", "a", "e"), step("e"), ...chain(40)];
    const index = upstreamIndex(steps)!;
    for (const s of steps) {
      const expected = upstreamOf(steps, s.name);
      for (const c of steps) expect(index.isUpstream(c.name, s.name)).toBe(expected.has(c.name));
    }
    expect(index.isUpstream("ghost", "c")).toBe(false);
  });

  it("is null for a cyclic graph", () => {
    expect(upstreamIndex([step("a", "b"), step("b", "a")])).toBeNull();
  });

  it("stays fast on a dense 1,000-step graph (each step depends on all before it)", () => {
    const steps = Array.from({ length: 1000 }, (_, i) => step(`s${i}`, ...Array.from({ length: i }, (_, j) => `s${j}`)));
    const started = performance.now();
    const index = upstreamIndex(steps)!;
    expect(index.isUpstream("s0", "s999")).toBe(true);
    expect(index.isUpstream("s999", "s0")).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
