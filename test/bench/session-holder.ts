/**
 * Holds idle worker sessions for the `worker-rss` scenario, with raw WorkerService clients (no
 * SDK): each session registers, keeps a Subscribe stream open and heartbeats at the interval the
 * server gave, as a live worker with nothing to do would. Sessions share `connections` HTTP/2
 * connections (one transport each, Connect protocol, as the SDK uses).
 */
import { createWorkerClient, type WorkerClient } from "../../src/client/index.js";
import { childConfig, serveBench } from "./child-ipc.js";
import type { HolderConfig, HolderStatus } from "./worker-samples.js";

const config = childConfig<HolderConfig>();
const clients: WorkerClient[] = Array.from({ length: config.connections }, () =>
  createWorkerClient(config.url, { token: config.token, protocol: "connect" }),
);
const closed = new AbortController();
const timers: NodeJS.Timeout[] = [];
const status: HolderStatus = { registered: 0, streamsOpen: 0, heartbeatsOk: 0, heartbeatErrors: 0, streamErrors: 0, lastError: null };
const failed = (err: unknown) => (status.lastError = String((err as Error).message ?? err));

async function hold(i: number): Promise<void> {
  const client = clients[i % clients.length]!;
  const reg = await client.registerWorker({
    instanceId: `${config.instancePrefix}-${i}`,
    actions: [{ name: "bench-idle" }],
    slots: 10,
    sdk: "sagad-bench-raw/0",
  });
  status.registered++;
  const sessionId = reg.sessionId;
  const intervalMs = Number(reg.heartbeatInterval!.seconds) * 1000 + reg.heartbeatInterval!.nanos / 1e6;
  const beat = () =>
    void client.heartbeat({ sessionId, tasks: [] }, { signal: closed.signal }).then(
      () => status.heartbeatsOk++,
      (err: unknown) => {
        if (closed.signal.aborted) return;
        status.heartbeatErrors++;
        failed(err);
      },
    );
  // Spread the beats over the interval, as independent processes would be.
  timers.push(setTimeout(() => {
    beat();
    timers.push(setInterval(beat, intervalMs));
  }, Math.random() * intervalMs));
  void (async () => {
    try {
      const stream = client.subscribe({ sessionId }, { signal: closed.signal });
      status.streamsOpen++;
      for await (const _ of stream) {
        // keepalives only: this session serves an action no saga uses
      }
    } catch (err) {
      if (!closed.signal.aborted) {
        status.streamErrors++;
        failed(err);
      }
    } finally {
      status.streamsOpen--;
    }
  })();
}

const ipc = serveBench((m) => (m.type === "status" ? status : null));
process.once("SIGTERM", () => {
  closed.abort();
  for (const t of timers) clearTimeout(t);
  setTimeout(() => process.exit(0), 200);
});

// Register 25 at a time: a thousand registrations at once would measure the stampede, not the hold.
let next = 0;
await Promise.all(
  Array.from({ length: 25 }, async () => {
    while (next < config.sessions) await hold(next++).catch(failed);
  }),
);
ipc.ready();
