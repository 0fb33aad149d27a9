import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { EventType, SagaStatus, watchedEvents, type SagaClient, type SagaEvent } from "../../src/client/index.js";

const RESTING = new Set<SagaStatus>([
  SagaStatus.COMPLETED,
  SagaStatus.FAILED,
  SagaStatus.COMPENSATED,
  SagaStatus.COMPENSATION_FAILED,
  SagaStatus.CANCELLED,
]);

export type Shape = "sequential" | "parallel";

export interface DriveOptions {
  count: number;
  steps: number;
  concurrency: number;
  shape: Shape;
  /** Distinguishes sagas of different rounds in the table. */
  label: string;
  /** Watch with batch_events (a transition's events in one message) instead of one per event. */
  batchEvents: boolean;
  /** The CreateSaga request of saga `i`, instead of inline steps of `shape` (e.g. from a definition). */
  request?: (i: number) => CreateSagaInit;
}

export type CreateSagaInit = Parameters<SagaClient["createSaga"]>[0];

export interface DriveResult {
  elapsedMs: number;
  /** CreateSaga sent → resting status received on the watch stream, per saga. */
  latenciesMs: number[];
  /**
   * Dependency STEP_COMPLETED → dependent STEP_STARTED, from the events' commit times. sagad
   * commits both in one transaction, so this is 0 by construction; see `cycleMs`.
   */
  dispatchMs: number[];
  /**
   * STEP_STARTED of one step → STEP_STARTED of the next in a chain: running a noop action,
   * committing its result and deciding the next step — the real per-step overhead.
   */
  cycleMs: number[];
  /**
   * Where one saga's time goes, per saga, all from CreateSaga being sent (wall clock; event times
   * are the server's clock on the same machine, to the millisecond): the create's answer arriving,
   * the last transition being decided (its commit follows), and the resting event arriving.
   */
  timeline: { createAnsweredMs: number[]; lastDecidedMs: number[]; restingReceivedMs: number[] };
  notCompleted: number;
}

/**
 * Runs sagas of noop steps the way a caller would: CreateSaga, then WatchSaga from the sequence
 * the create returned until the saga rests (by default with batch_events, as a caller that only
 * follows a saga to its end would). `concurrency` workers keep that many sagas in flight.
 */
export async function driveSagas(client: SagaClient, options: DriveOptions): Promise<DriveResult> {
  const latenciesMs: number[] = [];
  const dispatchMs: number[] = [];
  const cycleMs: number[] = [];
  const timeline: DriveResult["timeline"] = { createAnsweredMs: [], lastDecidedMs: [], restingReceivedMs: [] };
  let notCompleted = 0;
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < options.count) {
      const i = next++;
      const t0 = performance.now();
      const sentAt = Date.now();
      const { saga } = await client.createSaga(options.request?.(i) ?? {
        name: `bench-${options.label}`,
        labels: { bench: options.label },
        steps: stepSpecs(options.steps, options.shape, i),
      });
      const answeredMs = performance.now() - t0;
      let status = saga!.status;
      const events: SagaEvent[] = [];
      if (!RESTING.has(status)) {
        for await (const res of client.watchSaga({ id: saga!.id, afterSequence: saga!.sequence, batchEvents: options.batchEvents })) {
          const received = watchedEvents(res);
          events.push(...received);
          status = received.at(-1)?.sagaStatus ?? status;
          if (RESTING.has(status)) break;
        }
      }
      latenciesMs.push(performance.now() - t0);
      const last = events.at(-1);
      if (last) {
        timeline.createAnsweredMs.push(answeredMs);
        timeline.lastDecidedMs.push(ms(last) - sentAt);
        timeline.restingReceivedMs.push(latenciesMs.at(-1)!);
      }
      if (status !== SagaStatus.COMPLETED) notCompleted++;
      if (options.shape === "sequential") {
        dispatchMs.push(...dispatchGaps(events));
        cycleMs.push(...cycleGaps(saga!.steps.find((s) => s.name === "s1")?.startTime, events));
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return { elapsedMs: performance.now() - started, latenciesMs, dispatchMs, cycleMs, timeline, notCompleted };
}

function stepSpecs(steps: number, shape: Shape, i: number) {
  return Array.from({ length: steps }, (_, s) => ({
    name: `s${s + 1}`,
    action: "noop",
    config: { i },
    dependsOn: shape === "sequential" && s > 0 ? [`s${s}`] : [],
  }));
}

/** For a chain s1 → s2 → …: time from s(n) completing to s(n+1) starting. */
function dispatchGaps(events: readonly SagaEvent[]): number[] {
  const completedAt = new Map<string, number>();
  const gaps: number[] = [];
  for (const e of events) {
    if (e.type === EventType.STEP_COMPLETED) completedAt.set(e.step, ms(e));
    if (e.type === EventType.STEP_STARTED) {
      const previous = completedAt.get(`s${Number(e.step.slice(1)) - 1}`);
      if (previous !== undefined) gaps.push(ms(e) - previous);
    }
  }
  return gaps;
}

/** For a chain: time from each STEP_STARTED to the next one (the first from the create's answer). */
function cycleGaps(firstStart: Timestamp | undefined, events: readonly SagaEvent[]): number[] {
  let previous = firstStart ? tsMs(firstStart) : undefined;
  const gaps: number[] = [];
  for (const e of events) {
    if (e.type !== EventType.STEP_STARTED) continue;
    if (previous !== undefined) gaps.push(ms(e) - previous);
    previous = ms(e);
  }
  return gaps;
}

function tsMs(t: Timestamp): number {
  return Number(t.seconds) * 1000 + t.nanos / 1e6;
}

export function ms(event: SagaEvent): number {
  return Number(event.time!.seconds) * 1000 + event.time!.nanos / 1e6;
}
