import { describe, expect, it } from "vitest";
import { SagaStatus, StepStatus } from "../../src/gen/saga/v1/saga_pb.js";
import {
  dagStepsFromSaga,
  edgePath,
  focusStep,
  layoutDag,
  NODE_HEIGHT,
  NODE_WIDTH,
  stepTone,
  structureKey,
  visibleSteps,
  type DagStep,
} from "../../src/console/model/dag-model.js";
import { sagaOf } from "./saga-fixtures.js";

const step = (name: string, dependsOn: string[] = [], status?: StepStatus): DagStep => ({
  name,
  action: "noop",
  dependsOn,
  ...(status !== undefined ? { status } : {}),
});

describe("layoutDag", () => {
  it("places every node and routes one edge per dependency, left to right", () => {
    const steps = [step("a"), step("b", ["a"]), step("c", ["a"]), step("d", ["b", "c"])];
    const dag = layoutDag(steps);
    expect([...dag.nodes.keys()].sort()).toEqual(["a", "b", "c", "d"]);
    for (const box of dag.nodes.values()) {
      expect(Number.isFinite(box.x) && Number.isFinite(box.y)).toBe(true);
    }
    expect(dag.edges.map((e) => `${e.from}>${e.to}`).sort()).toEqual(["a>b", "a>c", "b>d", "c>d"]);
    expect(dag.edges.every((e) => e.points.length >= 2)).toBe(true);
    // Ranks run left to right: a dependency sits left of its dependent, without overlap.
    const x = (n: string) => dag.nodes.get(n)!.x;
    expect(x("a") + NODE_WIDTH).toBeLessThan(x("b"));
    expect(x("b") + NODE_WIDTH).toBeLessThan(x("d"));
    expect(dag.width).toBeGreaterThan(3 * NODE_WIDTH);
  });

  it("ignores dependencies on steps that are not drawn", () => {
    const dag = layoutDag([step("b", ["gone"])]);
    expect(dag.edges).toEqual([]);
    expect(dag.nodes.has("b")).toBe(true);
  });

  it("lays out a 200-step mesh (20 layers of 10, fan-in 2 and 10) with every node placed and none overlapping", () => {
    const name = (layer: number, i: number) => `l${layer}-s${i}`;
    const steps = Array.from({ length: 200 }, (_, n) => {
      const layer = Math.floor(n / 10);
      const i = n % 10;
      const parents = layer === 0 ? [] : layer % 5 === 0 ? [...Array(10).keys()] : [i, (i + 1) % 10];
      return step(name(layer, i), parents.map((p) => name(layer - 1, p)));
    });
    const dag = layoutDag(steps);
    expect(dag.nodes.size).toBe(200);
    // Timing is BENCHMARKS.md's business (CPUs here are shared); the shape is this test's.
    const columns = new Map<number, number[]>();
    for (const box of dag.nodes.values()) columns.set(Math.round(box.x), [...(columns.get(Math.round(box.x)) ?? []), box.y]);
    expect(columns.size).toBe(20); // one column per layer
    for (const ys of columns.values()) {
      const sorted = [...ys].sort((a, b) => a - b);
      for (let i = 1; i < sorted.length; i++) expect(sorted[i]! - sorted[i - 1]!).toBeGreaterThanOrEqual(NODE_HEIGHT);
    }
  });
});

describe("structureKey", () => {
  it("changes with the shape, not with statuses", () => {
    const a = [step("a", [], StepStatus.PENDING), step("b", ["a"], StepStatus.PENDING)];
    const running = [step("a", [], StepStatus.RUNNING), step("b", ["a"], StepStatus.PENDING)];
    const rewired = [step("a"), step("b")];
    expect(structureKey(running)).toBe(structureKey(a));
    expect(structureKey(rewired)).not.toBe(structureKey(a));
  });
});

describe("visibleSteps (hide completed)", () => {
  const steps = [
    step("a", [], StepStatus.COMPLETED),
    step("b", ["a"], StepStatus.COMPLETED),
    step("c", ["b"], StepStatus.SKIPPED),
    step("x", [], StepStatus.FAILED),
    step("d", ["c", "x"], StepStatus.PENDING),
    step("e", ["d", "a"], StepStatus.PENDING),
  ];

  it("keeps every step when not hiding", () => {
    expect(visibleSteps(steps, false).map((s) => s.name)).toEqual(["a", "b", "c", "x", "d", "e"]);
  });

  it("drops completed and skipped steps and rewires edges to the nearest visible ancestors", () => {
    const shown = visibleSteps(steps, true);
    expect(shown.map((s) => s.name)).toEqual(["x", "d", "e"]);
    const deps = Object.fromEntries(shown.map((s) => [s.name, [...s.dependsOn].sort()]));
    expect(deps).toEqual({ x: [], d: ["x"], e: ["d"] });
    // Every edge of the smaller graph joins two drawn nodes.
    const dag = layoutDag(shown);
    expect(dag.edges.map((e) => `${e.from}>${e.to}`).sort()).toEqual(["d>e", "x>d"]);
  });

  it("passes a hidden step's ancestors through to its dependents", () => {
    const chain = [step("p", [], StepStatus.RUNNING), step("q", ["p"], StepStatus.COMPLETED), step("r", ["q"], StepStatus.PENDING)];
    expect(visibleSteps(chain, true).find((s) => s.name === "r")!.dependsOn).toEqual(["p"]);
  });
});

describe("stepTone", () => {
  it("gives each status its tone, compensation its own", () => {
    expect(stepTone({ status: StepStatus.RUNNING })).toBe("active");
    expect(stepTone({ status: StepStatus.FAILED })).toBe("failed");
    expect(stepTone({ status: StepStatus.COMPLETED })).toBe("done");
    expect(stepTone({ status: StepStatus.COMPENSATING })).toBe("undoing");
    expect(stepTone({ status: StepStatus.COMPENSATED })).toBe("undone");
    expect(stepTone({ status: StepStatus.RETRY_SCHEDULED })).toBe("waiting");
    expect(stepTone({})).toBe("idle");
  });
});

describe("dagStepsFromSaga", () => {
  it("carries status, attempts against the right budget, compensation and the undo order", () => {
    const saga = sagaOf(SagaStatus.COMPENSATING, [
      { name: "reserve", status: StepStatus.COMPENSATED, compensate: true },
      { name: "charge", status: StepStatus.RUNNING },
      { name: "ship", status: StepStatus.PENDING, compensate: true },
    ]);
    saga.steps[0]!.retryCount = 2;
    saga.steps[1]!.retryCount = 1;
    saga.steps[1]!.dependsOn = ["reserve"];
    const dag = dagStepsFromSaga(saga, new Map([["reserve", 1]]));
    const [reserve, charge, ship] = dag;
    expect(reserve).toMatchObject({ name: "reserve", status: StepStatus.COMPENSATED, attempt: 2, maxAttempts: 5, hasCompensation: true, compensationOrder: 1, running: false });
    expect(charge).toMatchObject({ dependsOn: ["reserve"], attempt: 1, maxAttempts: 3, hasCompensation: false, running: true });
    expect(ship!.compensationOrder).toBeUndefined();
  });
});

describe("edgePath", () => {
  it("starts at the first point and ends at the last", () => {
    const d = edgePath([{ x: 0, y: 0 }, { x: 10, y: 5 }, { x: 20, y: 5 }, { x: 30, y: 0 }]);
    expect(d.startsWith("M0,0")).toBe(true);
    expect(d.endsWith("L30,0")).toBe(true);
    expect(edgePath([])).toBe("");
  });
});

describe("focusStep", () => {
  it("picks a failed step first, then a running one, then a waiting one", () => {
    const steps = [step("a", [], StepStatus.COMPLETED), step("b", [], StepStatus.RETRY_SCHEDULED), step("c", [], StepStatus.RUNNING), step("d", [], StepStatus.FAILED)];
    expect(focusStep(steps)).toBe("d");
    expect(focusStep(steps.slice(0, 3))).toBe("c");
    expect(focusStep(steps.slice(0, 2))).toBe("b");
    expect(focusStep(steps.slice(0, 1))).toBeUndefined();
    expect(focusStep([step("x"), step("y")])).toBeUndefined(); // a definition's steps have no status
  });
});
