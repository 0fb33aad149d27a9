import path from "node:path";
import { fileURLToPath } from "node:url";
import { SagaStatus } from "../../src/client/index.js";
import type { StepSpecInit } from "../helpers/rpc.js";
import { RESTING } from "../helpers/wait.js";
import { createAdminToken, openBenchDatabase, rssMiB } from "../bench/environment.js";
import { metricValue } from "../bench/metrics-probe.js";
import { ReplicaSet } from "./replica-set.js";
import { ResilientClient, sleep } from "./resilient-client.js";
import { memoryWindows, type MemorySample, type MemoryWindow } from "./memory-windows.js";
import { check, elapsedS, zero, type ScenarioContext, type ScenarioResult } from "./scenario.js";
import { startTarget } from "./target.js";

/** Memory may grow this much from the first window after warm-up to the last one. */
const MAX_GROWTH_PCT = 10;
const HEAP_PROBE = path.join(path.dirname(fileURLToPath(import.meta.url)), "heap-probe.cjs");

/**
 * Keeps `sagas` sagas in flight on two replicas for `seconds` (each finished one is replaced at
 * once), `watchers` of them followed by a WatchSaga stream from creation to rest, and samples each
 * replica's RSS. Passes if nothing failed (every RPC answered, every saga COMPLETED with each step
 * run once, every stream gap-free) and RSS grew less than 10% between the first window after
 * warm-up and the last one.
 */
export async function runSoakScenario(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { options, cleanup, random, log } = ctx;
  const { seconds, sagas, watchers, sampleMs } = options.soak;
  const started = Date.now();
  const db = await openBenchDatabase("sagad_chaos");
  cleanup.add("soak database", () => db.close());
  const target = await startTarget(random, { fastMs: [2, 20], slowMs: [50, 200], slowShare: 0.1 });
  cleanup.add("soak target", () => target.close());
  const env = { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --require ${HEAP_PROBE}`.trim() };
  const replicas = await ReplicaSet.start(db.url, 2, "chaos-soak", env, () => createAdminToken(db.url, `chaos-soak-${ctx.runId}`), cleanup);
  const client = new ResilientClient({ clients: () => replicas.allClients(), faultActive: () => false, watchIdleMs: 60_000 });

  // Sleeps long enough that the in-flight population costs little CPU: full 5-15 s per sleep step.
  const [minSleep, maxSleep] = options.size === "full" ? [5, 15] : [2, 6];
  const lifetimeS = 2 * maxSleep + 2;
  const warmupS = Math.max(2 * lifetimeS, seconds * 0.2);
  const windowS = Math.round(Math.min(60, (seconds - warmupS) / 3) * 10) / 10;
  log(`soak: ${sagas} sagas in flight, ${watchers} watched, ${seconds}s on 2 replicas (warm-up ${warmupS}s, windows ${windowS}s)`);

  const counts = { created: 0, completed: 0, notCompleted: 0, watchedEvents: 0, polls: 0, watching: 0 };
  const problems: string[] = [];
  const stopAt = started + seconds * 1000;
  const steps = (i: number): StepSpecInit[] => [
    { name: "wait", action: "sleep", config: { duration: `${random.int(minSleep * 1000, maxSleep * 1000)}ms` } },
    { name: "call", action: "http", dependsOn: ["wait"], config: { method: "POST", url: target.url("action", "ok", "call"), body: { slot: i } } },
    { name: "settle", action: "sleep", dependsOn: ["call"], config: { duration: `${random.int(minSleep * 1000, maxSleep * 1000)}ms` } },
    { name: "done", action: "noop", dependsOn: ["settle"] },
  ];
  const worker = async (slot: number) => {
    await sleep((slot / sagas) * minSleep * 1000); // ramp up over one short sleep
    while (Date.now() < stopAt) {
      try {
        const { saga } = await client.unary("CreateSaga", (c, o) => c.createSaga({ name: "chaos-soak", labels: { chaos: "soak" }, steps: steps(slot) }, o), 30_000);
        counts.created++;
        let status: SagaStatus | null;
        if (slot < watchers) {
          counts.watching++;
          try {
            status = (await client.watchUntilResting(saga!.id, saga!.sequence, () => counts.watchedEvents++, lifetimeS * 4_000)).status;
          } finally {
            counts.watching--;
          }
        } else {
          status = await pollUntilResting(client, saga!.id, lifetimeS * 4_000, () => counts.polls++);
        }
        if (status === SagaStatus.COMPLETED) counts.completed++;
        else {
          counts.notCompleted++;
          if (problems.length < 20) problems.push(`saga ${saga!.id} ended ${status === null ? "stuck" : SagaStatus[status]}`);
        }
      } catch (err) {
        if (problems.length < 20) problems.push((err as Error).message);
        await sleep(1000);
      }
    }
  };

  const samples: MemorySample[] = [];
  const live: MemorySample[] = [];
  const population: { atS: number; inFlight: number; watching: number; serverStreams: number | null }[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const atS = elapsedS(started);
      for (const { replica, pid } of replicas.pids()) {
        const rss = await rssMiB(pid).catch(() => null); // gone since pids() was read
        if (rss !== null) samples.push({ atS, replica, mib: rss });
      }
      for (const { replica, liveMiB } of await replicas.probeHeap()) live.push({ atS, replica, mib: liveMiB });
      const inFlight = counts.created - counts.completed - counts.notCompleted;
      population.push({ atS, inFlight, watching: counts.watching, serverStreams: await serverStreams(replicas) });
      await sleep(sampleMs);
    }
  })();
  await Promise.all(Array.from({ length: sagas }, (_, i) => worker(i)));
  sampling = false;
  await sampler;
  const endS = seconds;
  const windows = memoryWindows(samples.filter((s) => s.atS <= endS), warmupS, windowS, endS);
  const liveWindows = memoryWindows(live.filter((s) => s.atS <= endS), warmupS, windowS, endS);
  // Every saga makes exactly one http call; more would be a step run twice without a fault.
  const callsPerSaga = new Map<string, number>();
  for (const c of target.calls) callsPerSaga.set(c.sagaId, (callsPerSaga.get(c.sagaId) ?? 0) + 1);
  const extraCalls = [...callsPerSaga.values()].reduce((n, calls) => n + calls - 1, 0);
  const alive = replicas.pids().length;
  // The load the soak claims: sagas in flight and streams open, median over the measured part.
  const steady = population.filter((p) => p.atS >= warmupS && p.atS <= endS);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const steadyInFlight = median(steady.map((p) => p.inFlight));
  const steadyWatching = median(steady.map((p) => p.watching));
  const checks = [
    check("sagas completed", counts.completed > 0 && counts.completed === counts.created, `${counts.completed}/${counts.created}`),
    zero("sagas not COMPLETED (or stuck)", counts.notCompleted),
    check("non-retryable RPC errors", Object.keys(client.stats.errors).length === 0, Object.entries(client.stats.errors).map(([k, v]) => `${k}×${v}`).join(", ") || 0),
    zero("RPCs retried (no fault was injected)", Object.values(client.stats.retried).reduce((a, b) => a + b, 0)),
    zero("RPC deadline hits", client.stats.deadlineHitsOutsideFault),
    zero("watch stalls", client.stats.watchStallsOutsideFault),
    zero("watch sequence breaks", client.stats.watchSequenceBreaks),
    zero("http calls beyond one per saga", extraCalls),
    check("replicas alive", alive === 2 && replicas.unexpectedExits.length === 0, `${alive}/2`),
    check(`sagas in flight after warm-up (median, want ≥ 90% of ${sagas})`, steadyInFlight >= 0.9 * sagas, steadyInFlight),
    check(`watch streams open after warm-up (median, want ≥ 90% of ${watchers})`, steadyWatching >= 0.9 * watchers, steadyWatching),
    check("replicas' memory sampled in both windows", windows.length === 2 && liveWindows.length === 2, `${windows.length} RSS, ${liveWindows.length} live`),
    ...windows.map((w) => memoryCheck(w, liveWindows.find((l) => l.replica === w.replica))),
  ];
  await replicas.stopAll();
  return {
    scenario: "soak",
    passed: checks.every((c) => c.held),
    seconds: elapsedS(started),
    faults: [],
    sagas: counts.created,
    lost: 0,
    stuck: counts.notCompleted,
    duplicates: extraCalls,
    checks,
    details: {
      inFlight: sagas,
      watchers,
      warmupS,
      windowS,
      ...counts,
      sagasPerSecond: Math.round((counts.completed / seconds) * 10) / 10,
      rssWindows: windows,
      liveHeapWindows: liveWindows,
      rssSamples: samples,
      liveHeapSamples: live,
      population,
      client: client.stats,
      problems: [...replicas.unexpectedExits, ...problems],
      replicaLogTail: replicas.loggedProblems(),
    },
  };
}

/**
 * Memory is flat if RSS grew less than MAX_GROWTH_PCT between the windows. RSS is a high-water
 * mark, though: a burst of work (a slow database, a neighbour hogging the CPU) leaves it up with
 * nothing leaked. So where RSS grew, the live heap after a full GC decides: a leak grows that too.
 */
function memoryCheck(rss: MemoryWindow, live: MemoryWindow | undefined) {
  const observed = `RSS ${rss.firstMiB} -> ${rss.lastMiB} MiB (${rss.growthPct}%), live heap after GC ${live ? `${live.firstMiB} -> ${live.lastMiB} MiB (${live.growthPct}%)` : "not sampled"}`;
  const held = rss.growthPct < MAX_GROWTH_PCT || (live !== undefined && live.growthPct < MAX_GROWTH_PCT);
  return check(`memory of ${rss.replica} flat (RSS, or where RSS grew the live heap, under +${MAX_GROWTH_PCT}%)`, held, observed);
}

async function pollUntilResting(client: ResilientClient, id: string, budgetMs: number, onPoll: () => void): Promise<SagaStatus | null> {
  const giveUpAt = Date.now() + budgetMs;
  while (Date.now() < giveUpAt) {
    onPoll();
    const { saga } = await client.unary(`GetSaga ${id}`, (c, o) => c.getSaga({ id }, o), 30_000);
    if (RESTING.includes(saga!.status)) return saga!.status;
    await sleep(1000);
  }
  return null;
}

/** Open WatchSaga streams the replicas report on /metrics (informational; null before metrics exist). */
async function serverStreams(replicas: ReplicaSet): Promise<number | null> {
  try {
    let sum = 0;
    for (const url of replicas.urls()) sum += await metricValue(url, "sagad_watch_streams_open");
    return sum;
  } catch {
    return null;
  }
}
