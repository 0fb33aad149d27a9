import { describe, expect, it } from "vitest";
import { compensationsReady } from "../../src/domain/compensation-order.js";
import type { StepState, StepStatus } from "../../src/domain/types.js";
import { deepFreeze, stepSpec, type StepDef } from "./saga-fixtures.js";

/** A step in `status`; compensable unless `compensate: false`. */
function st(name: string, status: StepStatus, o: Omit<StepDef, "name"> = {}): StepState {
  return {
    ...stepSpec({ compensate: true, ...o, name }),
    status,
    attempt: 1,
    roundStart: 0,
    output: null,
    error: null,
    errorKind: null,
    startedAt: null,
    completedAt: null,
    nextAttemptAt: null,
  };
}

/** Names of the ready steps; the input is frozen (a copy of the array) to prove it is only read. */
const ready = (steps: StepState[]): string[] => {
  const frozen = deepFreeze([...steps]);
  return compensationsReady(frozen).map((i) => frozen[i]!.name);
};

describe("compensationsReady", () => {
  it("returns nothing when nothing is COMPLETED", () => {
    expect(ready([])).toEqual([]);
    expect(ready([st("a", "PENDING"), st("b", "FAILED", { dependsOn: ["a"] })])).toEqual([]);
  });

  it("starts a chain at its end, then walks back one step at a time", () => {
    const chain = (a: StepStatus, b: StepStatus, c: StepStatus) => [
      st("a", a),
      st("b", b, { dependsOn: ["a"] }),
      st("c", c, { dependsOn: ["b"] }),
    ];
    expect(ready(chain("COMPLETED", "COMPLETED", "COMPLETED"))).toEqual(["c"]);
    expect(ready(chain("COMPLETED", "COMPLETED", "COMPENSATING"))).toEqual([]);
    expect(ready(chain("COMPLETED", "COMPLETED", "COMPENSATED"))).toEqual(["b"]);
    expect(ready(chain("COMPLETED", "COMPENSATING", "COMPENSATED"))).toEqual([]);
    expect(ready(chain("COMPLETED", "COMPENSATED", "COMPENSATED"))).toEqual(["a"]);
    expect(ready(chain("COMPENSATED", "COMPENSATED", "COMPENSATED"))).toEqual([]);
  });

  it("does not depend on the order the steps are listed in", () => {
    const steps = [st("c", "COMPLETED", { dependsOn: ["b"] }), st("b", "COMPLETED", { dependsOn: ["a"] }), st("a", "COMPLETED")];
    expect(ready(steps)).toEqual(["c"]);
  });

  it("returns indexes into the given array", () => {
    const steps = [st("x", "PENDING"), st("a", "COMPLETED"), st("b", "COMPENSATED", { dependsOn: ["a"] })];
    expect(compensationsReady(steps)).toEqual([1]);
  });

  it("starts where the run stopped: failed, skipped, cancelled and never-run steps have nothing to undo", () => {
    for (const downstream of ["FAILED", "SKIPPED", "CANCELLED", "PENDING", "COMPENSATED"] as const) {
      const steps = [st("a", "COMPLETED"), st("b", "COMPLETED", { dependsOn: ["a"] }), st("c", downstream, { dependsOn: ["b"] })];
      expect(ready(steps), `c ${downstream}`).toEqual(["b"]);
    }
  });

  it("diamond a -> b, c -> d: d first, then b and c together, then a", () => {
    const diamond = (a: StepStatus, b: StepStatus, c: StepStatus, d: StepStatus) => [
      st("a", a),
      st("b", b, { dependsOn: ["a"] }),
      st("c", c, { dependsOn: ["a"] }),
      st("d", d, { dependsOn: ["b", "c"] }),
    ];
    expect(ready(diamond("COMPLETED", "COMPLETED", "COMPLETED", "COMPLETED"))).toEqual(["d"]);
    expect(ready(diamond("COMPLETED", "COMPLETED", "COMPLETED", "COMPENSATED"))).toEqual(["b", "c"]);
    expect(ready(diamond("COMPLETED", "COMPENSATED", "COMPENSATING", "COMPENSATED"))).toEqual([]);
    expect(ready(diamond("COMPLETED", "COMPENSATED", "COMPLETED", "COMPENSATED"))).toEqual(["c"]);
    expect(ready(diamond("COMPLETED", "COMPENSATED", "COMPENSATED", "COMPENSATED"))).toEqual(["a"]);
    // d never ran (a branch failed): b and c still go before a.
    expect(ready(diamond("COMPLETED", "COMPLETED", "FAILED", "PENDING"))).toEqual(["b"]);
  });

  it("independent branches compensate in parallel", () => {
    const steps = [
      st("root", "COMPLETED"),
      st("l1", "COMPLETED", { dependsOn: ["root"] }),
      st("l2", "COMPLETED", { dependsOn: ["l1"] }),
      st("r1", "COMPLETED", { dependsOn: ["root"] }),
      st("other", "COMPLETED"),
    ];
    expect(ready(steps)).toEqual(["l2", "r1", "other"]);
  });

  it("a middle step without a compensation does not let its upstream compensate early", () => {
    const chain = (c: StepStatus) => [
      st("a", "COMPLETED"),
      st("b", "COMPLETED", { dependsOn: ["a"], compensate: false }),
      st("c", c, { dependsOn: ["b"] }),
    ];
    expect(ready(chain("COMPLETED"))).toEqual(["c"]);
    expect(ready(chain("COMPENSATING"))).toEqual([]);
    expect(ready(chain("COMPENSATION_FAILED"))).toEqual([]);
    expect(ready(chain("COMPENSATED"))).toEqual(["a"]);
  });

  it("looks through several steps without compensations", () => {
    const steps = [
      st("a", "COMPLETED"),
      st("b", "COMPLETED", { dependsOn: ["a"], compensate: false }),
      st("c", "COMPLETED", { dependsOn: ["b"], compensate: false }),
      st("d", "COMPLETED", { dependsOn: ["c"], compensate: false }),
      st("e", "COMPLETED", { dependsOn: ["d"] }),
    ];
    expect(ready(steps)).toEqual(["e"]);
    steps[4] = st("e", "COMPENSATED", { dependsOn: ["d"] });
    expect(ready(steps)).toEqual(["a"]);
  });

  it("never offers a COMPLETED step without a compensation", () => {
    expect(ready([st("a", "COMPLETED", { compensate: false }), st("b", "COMPLETED", { compensate: false })])).toEqual([]);
    expect(ready([st("a", "COMPLETED"), st("b", "COMPLETED", { dependsOn: ["a"], compensate: false })])).toEqual(["a"]);
  });

  it("a COMPENSATION_FAILED step downstream keeps everything upstream of it waiting", () => {
    const steps = [
      st("a", "COMPLETED"),
      st("b", "COMPLETED", { dependsOn: ["a"] }),
      st("c", "COMPENSATION_FAILED", { dependsOn: ["b"] }),
      st("x", "COMPLETED", { dependsOn: ["a"] }),
    ];
    // x is on another branch and goes; a waits for both b (blocked by c) and x.
    expect(ready(steps)).toEqual(["x"]);
    steps[3] = st("x", "COMPENSATED", { dependsOn: ["a"] });
    expect(ready(steps)).toEqual([]);
  });

  it("only COMPLETED steps are offered, never ones already compensating, compensated or given up", () => {
    const statuses: StepStatus[] = ["COMPENSATING", "COMPENSATED", "COMPENSATION_FAILED", "RUNNING", "RETRY_SCHEDULED", "SKIPPED"];
    for (const s of statuses) expect(ready([st("a", s)]), s).toEqual([]);
  });

  it("ignores dependencies on unknown names instead of crashing", () => {
    expect(ready([st("a", "COMPLETED", { dependsOn: ["ghost"] })])).toEqual(["a"]);
  });

  it("a fan-in of many branches waits for all of them", () => {
    const branches = Array.from({ length: 50 }, (_, i) => st(`b${i}`, i === 37 ? "COMPENSATING" : "COMPENSATED", { dependsOn: ["root"] }));
    expect(ready([st("root", "COMPLETED"), ...branches])).toEqual([]);
    branches[37] = st("b37", "COMPENSATED", { dependsOn: ["root"] });
    expect(ready([st("root", "COMPLETED"), ...branches])).toEqual(["root"]);
  });

  it("stays fast on a 1,000-step chain (< 50 ms), at every point of the walk back", () => {
    const n = 1000;
    const chain = Array.from({ length: n }, (_, i) => st(`s${i}`, "COMPLETED", { dependsOn: i === 0 ? [] : [`s${i - 1}`] }));
    compensationsReady(chain); // warm up the JIT so the measurement is of the algorithm
    let t = performance.now();
    expect(compensationsReady(chain)).toEqual([n - 1]);
    expect(performance.now() - t).toBeLessThan(50);

    // Halfway back: the upper half compensated, the lower half with compensations off but one.
    const half = chain.map((s, i) => (i >= n / 2 ? { ...s, status: "COMPENSATED" as const } : i === 0 ? s : { ...s, compensate: null }));
    t = performance.now();
    expect(compensationsReady(half)).toEqual([0]);
    expect(performance.now() - t).toBeLessThan(50);
  });

  it("stays fast on a 1,000-step chain listed backwards (deep recursion from the first entry)", () => {
    const n = 1000;
    const chain = Array.from({ length: n }, (_, i) => st(`s${i}`, "COMPLETED", { dependsOn: i === 0 ? [] : [`s${i - 1}`], compensate: i === n - 1 ? true : false }));
    chain.reverse();
    const t = performance.now();
    expect(compensationsReady(chain)).toEqual([0]);
    expect(performance.now() - t).toBeLessThan(50);
  });

  it("stays linear on a wide layered DAG (each layer depends on all of the previous one)", () => {
    const layers = 20;
    const width = 50;
    const steps: StepState[] = [];
    for (let l = 0; l < layers; l++) {
      for (let w = 0; w < width; w++) {
        const deps = l === 0 ? [] : Array.from({ length: width }, (_, k) => `l${l - 1}w${k}`);
        steps.push(st(`l${l}w${w}`, "COMPLETED", { dependsOn: deps, compensate: l === 0 || l === layers - 1 }));
      }
    }
    const t = performance.now();
    const got = compensationsReady(steps);
    expect(performance.now() - t).toBeLessThan(50);
    expect(got.map((i) => steps[i]!.name)).toEqual(Array.from({ length: width }, (_, w) => `l${layers - 1}w${w}`));
  });
});
