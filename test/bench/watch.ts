import { setMaxListeners } from "node:events";
import { SagaStatus, type SagaClient } from "../../src/client/index.js";
import { ms } from "./drive.js";
import { percentiles, type Percentiles } from "./stats.js";

export interface DeliveryResult {
  watchers: number;
  /** Event deliveries counted (events committed after every watcher was open). */
  deliveries: number;
  /** Commit time of the event (the deciding replica's clock) → received by the watcher. */
  latencyMs: Percentiles;
}

const WATCHERS_PER_SAGA = 10;
const STEPS_AFTER_GATE = 5;

/**
 * `watchers` concurrent WatchSaga streams, ten per saga. Sagas are created through `creator`
 * (whose replica then drives them) and watched through `watchers`' clients, so passing another
 * replica's client measures delivery across replicas (LISTEN/NOTIFY) instead of in process. Each
 * saga first sleeps 3 s so every stream is open before the measured events, then runs five
 * 100 ms steps.
 */
export async function watchDelivery(
  creator: SagaClient,
  watcherClients: readonly SagaClient[],
  watchers: number,
  streamsOpen: () => Promise<number>,
): Promise<DeliveryResult> {
  const sagaCount = Math.max(1, Math.ceil(watchers / WATCHERS_PER_SAGA));
  const steps = [
    { name: "gate", action: "sleep", config: { duration: "3s" }, dependsOn: [] as string[] },
    ...Array.from({ length: STEPS_AFTER_GATE }, (_, i) => ({
      name: `s${i + 1}`,
      action: "sleep",
      config: { duration: "100ms" },
      dependsOn: [i === 0 ? "gate" : `s${i}`],
    })),
  ];
  const sagas = await Promise.all(
    Array.from({ length: sagaCount }, () => creator.createSaga({ name: "bench-watch", labels: { bench: "watch" }, steps }).then((r) => r.saga!)),
  );
  const samples: number[] = [];
  let openedAt = Number.POSITIVE_INFINITY;
  const before = await streamsOpen();
  const watch = async (w: number) => {
    const saga = sagas[w % sagaCount]!;
    const client = watcherClients[w % watcherClients.length]!;
    const iterator = client.watchSaga({ id: saga.id, afterSequence: saga.sequence })[Symbol.asyncIterator]();
    for (;;) {
      const { value, done } = await iterator.next();
      if (done) break;
      if (value.kind.case !== "event") continue;
      const event = value.kind.value;
      const receivedAt = Date.now();
      if (ms(event) >= openedAt) samples.push(receivedAt - ms(event));
      if (event.sagaStatus !== SagaStatus.RUNNING) break;
    }
  };
  const done = Promise.all(Array.from({ length: watchers }, (_, w) => watch(w)));
  // Only events committed once the server holds every stream count; earlier ones are backlog.
  await waitFor(async () => (await streamsOpen()) - before >= watchers, 30_000, "watch streams to open");
  openedAt = Date.now();
  await done;
  return { watchers, deliveries: samples.length, latencyMs: percentiles(samples) };
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
