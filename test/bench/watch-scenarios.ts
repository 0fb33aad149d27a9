import type { SagaClient } from "../../src/client/index.js";
import { startFloorServer } from "./floor-process.js";
import { watchStreamsOpen } from "./metrics-probe.js";
import { offeredPerSec, watchDelivery, type DeliveryResult, type WatchLoad, type WatchServer } from "./watch.js";

/** The step period of the lockstep load: the scenario, 20,000 messages/s at 1,000 streams. */
export const LOCKSTEP_STEP_MS = 100;

/** One server's delivery: the lockstep worst case, then commits spread evenly at each step period. */
export interface WatchSeries {
  lockstep: DeliveryResult;
  staggered: DeliveryResult[];
}

/** Who serves the streams in one series, and how to reach it. */
export interface WatchTarget {
  /** For the progress log. */
  label: string;
  /** Creates the sagas; its server drives them. */
  creator: SagaClient;
  /** A fresh client, i.e. a connection of its own; the streams alternate over two of them. */
  watcherClient: () => SagaClient;
  server: WatchServer;
}

/**
 * Watch delivery at `watchers` streams, after one unmeasured warm-up run: the lockstep load, then
 * staggered loads at each of `staggeredStepsMs`, i.e. the same message rates without bursts, and
 * lower rates, so the table shows how latency follows the message rate and what bursts add to it.
 */
export async function watchSeries(
  target: WatchTarget,
  watchers: number,
  staggeredStepsMs: readonly number[],
  log: (msg: string) => void,
  batchEvents = false,
): Promise<WatchSeries> {
  const clients = [target.watcherClient(), target.watcherClient()];
  const measure = async (load: WatchLoad) => {
    const kind = load.staggered ? "staggered" : "lockstep";
    log(`watch ${target.label}: ${watchers} streams, ${kind} ${load.stepMs} ms steps (${offeredPerSec(load)} events/s)`);
    return watchDelivery(target.creator, clients, load, target.server);
  };
  const lockstepLoad = { watchers, stepMs: LOCKSTEP_STEP_MS, staggered: false, batchEvents };
  // Unmeasured: a fresh process runs its streaming path unoptimised, and would charge V8's
  // compilations to the first load. Every server gets the same warm-up.
  log(`watch ${target.label}: warm-up`);
  await watchDelivery(target.creator, clients, lockstepLoad, target.server);
  const lockstep = await measure(lockstepLoad);
  const staggered: DeliveryResult[] = [];
  for (const stepMs of staggeredStepsMs) staggered.push(await measure({ watchers, stepMs, staggered: true, batchEvents }));
  return { lockstep, staggered };
}

/**
 * The framework floor: the same series against `floor-server.ts`, a bare Connect-ES server in a
 * process of its own, started the way the replicas are (`launch`), and reached with the same
 * generated client and connection layout.
 */
export async function watchFloorSeries(
  clientOf: (url: string) => SagaClient,
  watchers: number,
  staggeredStepsMs: readonly number[],
  launch: { nodeArgs: string[]; fromSource: boolean },
  log: (msg: string) => void,
): Promise<WatchSeries> {
  const floor = await startFloorServer(launch.nodeArgs, launch.fromSource);
  try {
    const server = { pid: floor.pid, streamsOpen: () => watchStreamsOpen(floor.metricsUrl) };
    const target = { label: "bare Connect-ES", creator: clientOf(floor.url), watcherClient: () => clientOf(floor.url), server };
    return await watchSeries(target, watchers, staggeredStepsMs, log);
  } finally {
    await floor.stop();
  }
}
