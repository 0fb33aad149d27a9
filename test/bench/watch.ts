import { setMaxListeners } from "node:events";
import { SagaStatus, watchedEvents, type SagaClient } from "../../src/client/index.js";
import { processCpuMs } from "./cpu-usage.js";
import { ms } from "./drive.js";
import { percentiles, round, type Percentiles } from "./stats.js";

/** How the watched sagas move. */
export interface WatchLoad {
  /** Concurrent WatchSaga streams, ten per saga. */
  watchers: number;
  /** What each of the five steps after the gate sleeps. */
  stepMs: number;
  /**
   * False: every gate is 3 s, so all sagas commit in the same instant (bursts: the worst case).
   * True: saga i of n sleeps i/n of a step longer at the gate, so commits are spread evenly.
   */
  staggered: boolean;
  /** Watch with batch_events, so the two events of a commit arrive in one message. */
  batchEvents: boolean;
}

/** The process holding the streams: its CPU is read, and its open-stream count polled. */
export interface WatchServer {
  pid: number;
  streamsOpen: () => Promise<number>;
}

export interface DeliveryResult extends WatchLoad {
  /** See {@link offeredPerSec}. */
  offeredPerSec: number;
  /** Event deliveries counted (events committed after every watcher was open). */
  deliveries: number;
  /** Commit time of the event (the deciding process's clock) → received by the watcher. */
  latencyMs: Percentiles;
  /**
   * CPU the serving process used from just before the first measured commit to the last delivery,
   * per delivered event. Everything it did then counts: for the replica that drives the sagas, running
   * them too, and at low rates its background work (timers, lease sweeps) weighs more.
   */
  serverCpuUsPerMessage: number;
  /** The same for this (the watching) process. */
  clientCpuUsPerMessage: number;
}

const WATCHERS_PER_SAGA = 10;
const STEPS_AFTER_GATE = 5;
const GATE_MS = 3_000;
/** How long before the first gate can end the CPU readings start. */
const CPU_LEAD_MS = 50;
/** Events per commit of a step: its STEP_COMPLETED with the next STEP_STARTED (or the end). */
const EVENTS_PER_COMMIT = 2;

/**
 * `watchers` concurrent WatchSaga streams, ten per saga. Sagas are created through `creator`
 * (whose server then drives them) and watched through `watcherClients`, so passing another
 * replica's client measures delivery across replicas (LISTEN/NOTIFY) instead of in process, and
 * the floor server's (floor-server.ts) Connect-ES alone. Each saga first sleeps at its gate (3 s,
 * so every stream is open before the measured events) then runs five steps of `stepMs`.
 */
export async function watchDelivery(
  creator: SagaClient,
  watcherClients: readonly SagaClient[],
  load: WatchLoad,
  server: WatchServer,
): Promise<DeliveryResult> {
  const sagaCount = Math.max(1, Math.ceil(load.watchers / WATCHERS_PER_SAGA));
  const steps = (phaseMs: number) => [
    { name: "gate", action: "sleep", config: { duration: `${GATE_MS + phaseMs}ms` }, dependsOn: [] as string[] },
    ...Array.from({ length: STEPS_AFTER_GATE }, (_, i) => ({
      name: `s${i + 1}`,
      action: "sleep",
      config: { duration: `${load.stepMs}ms` },
      dependsOn: [i === 0 ? "gate" : `s${i}`],
    })),
  ];
  const phase = (i: number) => (load.staggered ? Math.round((i * load.stepMs) / sagaCount) : 0);
  // No gate can end before this plus GATE_MS: the first measured commit.
  const creatingAt = Date.now();
  const sagas = await Promise.all(
    Array.from({ length: sagaCount }, (_, i) =>
      creator.createSaga({ name: "bench-watch", labels: { bench: "watch" }, steps: steps(phase(i)) }).then((r) => r.saga!),
    ),
  );
  const samples: number[] = [];
  let openedAt = Number.POSITIVE_INFINITY;
  const before = await server.streamsOpen();
  const watch = async (w: number) => {
    const saga = sagas[w % sagaCount]!;
    const client = watcherClients[w % watcherClients.length]!;
    const request = { id: saga.id, afterSequence: saga.sequence, batchEvents: load.batchEvents };
    const iterator = client.watchSaga(request)[Symbol.asyncIterator]();
    for (let resting = false; !resting; ) {
      const { value, done } = await iterator.next();
      if (done) break;
      const events = watchedEvents(value);
      const receivedAt = Date.now();
      for (const event of events) {
        if (ms(event) >= openedAt) samples.push(receivedAt - ms(event));
        resting ||= event.sagaStatus !== SagaStatus.RUNNING;
      }
    }
  };
  const done = Promise.all(Array.from({ length: load.watchers }, (_, w) => watch(w)));
  // Only events committed once the server holds every stream count; earlier ones are backlog.
  await waitFor(async () => (await server.streamsOpen()) - before >= load.watchers, 30_000, "watch streams to open");
  openedAt = Date.now();
  // The CPU window starts just before the first commit, so the idle wait is not charged to it.
  await new Promise((resolve) => setTimeout(resolve, creatingAt + GATE_MS - CPU_LEAD_MS - Date.now()));
  const serverCpu = await processCpuMs(server.pid);
  const clientCpu = process.cpuUsage();
  await done;
  const serverUs = ((await processCpuMs(server.pid)) - serverCpu) * 1000;
  const client = process.cpuUsage(clientCpu);
  return {
    ...load,
    offeredPerSec: offeredPerSec(load),
    deliveries: samples.length,
    latencyMs: percentiles(samples),
    serverCpuUsPerMessage: round(serverUs / samples.length, 1),
    clientCpuUsPerMessage: round((client.user + client.system) / samples.length, 1),
  };
}

/**
 * Events per second a load asks the server to deliver: two per commit, a commit per step of each
 * saga, to ten streams each. One message each, or half as many messages with batch_events.
 */
export function offeredPerSec(load: WatchLoad): number {
  return round((load.watchers * EVENTS_PER_COMMIT * 1000) / load.stepMs, 0);
}

/**
 * Opens `streams` idle WatchSaga streams (follow: true on resting sagas, spread over one client
 * per thousand streams, i.e. one HTTP/2 connection each) and returns a function closing them.
 */
export async function openIdleStreams(
  clients: () => SagaClient,
  streams: number,
  sagas: readonly { id: string; sequence: bigint }[],
  streamsOpen: () => Promise<number>,
): Promise<() => Promise<void>> {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal); // one listener per stream
  const pending: Promise<void>[] = [];
  let client = clients();
  const before = await streamsOpen();
  for (let i = 0; i < streams; i++) {
    if (i > 0 && i % 1000 === 0) client = clients();
    const saga = sagas[i % sagas.length]!;
    const stream = client.watchSaga({ id: saga.id, afterSequence: saga.sequence, follow: true }, { signal: controller.signal });
    pending.push(
      (async () => {
        try {
          for await (const _ of stream) {
            // idle: resting sagas send nothing
          }
        } catch {
          // aborted at close
        }
      })(),
    );
  }
  await waitFor(async () => (await streamsOpen()) - before >= streams, 120_000, `${streams} idle streams to open`);
  return async () => {
    controller.abort();
    await Promise.all(pending);
  };
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
