import { SagaStatus, StepStatus, watchedEvents, type SagaClient, type SagaEvent } from "../../src/client/index.js";
import type { CreateSagaInit } from "./drive.js";

type StepInit = NonNullable<CreateSagaInit["steps"]>[number];

const RESTING = new Set([SagaStatus.COMPLETED, SagaStatus.FAILED, SagaStatus.COMPENSATED, SagaStatus.COMPENSATION_FAILED, SagaStatus.CANCELLED]);

/** How the large DAG is shaped: layers of steps, and where it fails. */
export interface MeshShape {
  layers: number;
  width: number;
  /** The layer whose first `failing` steps fail at once (INVALID_CONFIG), so the saga rests FAILED. */
  failAtLayer: number;
  failing: number;
}

/** 200 steps: 20 layers of 10, failing in the middle. */
export const MESH_200: MeshShape = { layers: 20, width: 10, failAtLayer: 10, failing: 3 };

export const meshStepName = (layer: number, i: number) => `l${String(layer).padStart(2, "0")}-s${String(i).padStart(2, "0")}`;

/**
 * A braided mesh, the kind of DAG whose layout is hard: each step depends on two steps of the layer
 * before (fan-out 2, fan-in 2), every fifth layer on the whole layer before it (fan-in `width`),
 * and every other layer has compensations. The steps are `noop`, except `failing` steps of
 * `failAtLayer`: a `sleep` whose duration cannot parse, which fails at once and for good. So the
 * saga rests FAILED with the layers before completed, a few failed and the rest pending: every
 * colour the page has, and no worker needed.
 */
export function meshSteps(shape: MeshShape): StepInit[] {
  const steps: StepInit[] = [];
  for (let layer = 0; layer < shape.layers; layer++) {
    for (let i = 0; i < shape.width; i++) {
      const parents =
        layer === 0 ? [] : layer % 5 === 0 ? [...Array(shape.width).keys()] : [i, (i + 1) % shape.width];
      const fails = layer === shape.failAtLayer && i < shape.failing;
      steps.push({
        name: meshStepName(layer, i),
        action: fails ? "sleep" : "noop",
        config: fails ? { duration: "a while" } : { layer, i },
        dependsOn: parents.map((p) => meshStepName(layer - 1, p)),
        ...(layer % 2 === 1 ? { compensate: { action: "noop", config: { undo: meshStepName(layer, i) } } } : {}),
      });
    }
  }
  return steps;
}

/** How the event-rate saga is shaped: parallel chains of short sleeps behind a gate. */
export interface StreamShape {
  /** The first step sleeps this long, so the page is open and painted before the stream starts. */
  gateMs: number;
  chains: number;
  stepsPerChain: number;
  stepMs: number;
}

/**
 * ~100 events/s for ~10 s: 10 chains of 50 sleeps of 180 ms each run 10 steps at a time, each
 * step two events (STEP_STARTED, STEP_COMPLETED), ~5 steps a second per chain once the
 * transition's own few ms are added. The real rate is read back from the history.
 */
export const STREAM_100: StreamShape = { gateMs: 5_000, chains: 10, stepsPerChain: 50, stepMs: 180 };

export function streamSteps(shape: StreamShape): StepInit[] {
  const steps: StepInit[] = [{ name: "gate", action: "sleep", config: { duration: shape.gateMs } }];
  for (let c = 0; c < shape.chains; c++) {
    for (let n = 0; n < shape.stepsPerChain; n++) {
      steps.push({
        name: `c${c}-${String(n).padStart(2, "0")}`,
        action: "sleep",
        config: { duration: shape.stepMs },
        dependsOn: [n === 0 ? "gate" : `c${c}-${String(n - 1).padStart(2, "0")}`],
      });
    }
  }
  return steps;
}

/** Creates a saga of `steps` and returns its id. */
export async function createSaga(client: SagaClient, name: string, steps: StepInit[]): Promise<string> {
  const { saga } = await client.createSaga({ name, labels: { bench: "console" }, steps });
  return saga!.id;
}

/** The whole history of a saga, replayed from the first event until it rests. */
export async function historyUntilRest(client: SagaClient, id: string): Promise<SagaEvent[]> {
  const events: SagaEvent[] = [];
  for await (const res of client.watchSaga({ id, afterSequence: 0n, batchEvents: true })) {
    const received = watchedEvents(res);
    events.push(...received);
    const last = received.at(-1);
    if (last && RESTING.has(last.sagaStatus)) break;
  }
  return events;
}

/** How many steps the saga has in each status, by enum name (COMPLETED: 107, …). */
export async function stepStatusCounts(client: SagaClient, id: string): Promise<Record<string, number>> {
  const { saga } = await client.getSaga({ id });
  const counts: Record<string, number> = {};
  for (const step of saga!.steps) {
    const name = StepStatus[step.status];
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}
