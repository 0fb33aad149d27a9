import { createSagaClient, createWorkerClient } from "../../src/client/index.js";
import type { RunningSagad } from "../helpers/replica-process.js";
import { startBenchChild, type BenchChild } from "./bench-child.js";
import { cpuCost, cpuSnapshot } from "./cpu-usage.js";
import { driveSagas } from "./drive.js";
import { rssMiB } from "./environment.js";
import { round } from "./stats.js";
import { untilAttached } from "./workers.js";
import type { HolderConfig, HolderStatus } from "./worker-samples.js";

export interface WorkerRssOptions {
  sessions: number;
  /** Client processes holding them. */
  holders: number;
  /** HTTP/2 connections per client process, in the shared layout. */
  connectionsPerHolder: number;
  /** How long the sessions are held (heartbeating) before RSS is read. */
  holdMs: number;
  fromSource: boolean;
}

export interface WorkerRssLayout {
  /** "shared": sessions multiplexed over a few HTTP/2 connections; "own": one connection per session. */
  layout: "shared" | "own";
  sessions: number;
  connections: number;
  /** RSS of the fresh replica after a 200-saga warm-up, before any worker connects. */
  baselineMiB: number;
  /** Once every session is attached (ListWorkers), and after holding them `holdMs`. */
  attachedMiB: number;
  heldMiB: number;
  /** (held − baseline) / sessions, in KiB. */
  perSessionKiB: number;
  /** Over the hold, with every session heartbeating and nothing else running. */
  heldCores: { sagad: number; postgres: number; holders: number };
  heartbeatsPerSec: number;
  heartbeatErrors: number;
  streamErrors: number;
}

/**
 * RSS of one replica holding `sessions` idle worker sessions (register, Subscribe, heartbeats),
 * each layout on a fresh replica so neither inherits the other's heap.
 */
export async function workerRssScenario(
  startReplica: (id: string) => Promise<RunningSagad>,
  adminToken: string,
  workerToken: string,
  options: WorkerRssOptions,
  log: (msg: string) => void,
): Promise<WorkerRssLayout[]> {
  const results: WorkerRssLayout[] = [];
  const perHolder = Math.ceil(options.sessions / options.holders);
  for (const layout of ["shared", "own"] as const) {
    const replica = await startReplica(`bench-worker-rss-${layout}`);
    const holders: BenchChild[] = [];
    try {
      const client = createSagaClient(replica.url, { protocol: "grpc", token: adminToken });
      const admin = createWorkerClient(replica.url, { protocol: "grpc", token: adminToken });
      await driveSagas(client, { count: 200, steps: 5, concurrency: 50, shape: "sequential", label: `worker-rss-warm-${layout}`, batchEvents: true });
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const baselineMiB = await rssMiB(replica.pid);
      const connections = layout === "shared" ? options.connectionsPerHolder : perHolder;
      log(`worker-rss ${layout}: ${options.sessions} sessions from ${options.holders} processes over ${connections * options.holders} connections (baseline ${baselineMiB} MiB)`);
      const prefix = `bench-idle-${layout}`;
      for (let h = 0; h < options.holders; h++) {
        const config: HolderConfig = {
          url: replica.url, token: workerToken, sessions: Math.min(perHolder, options.sessions - h * perHolder), connections, instancePrefix: `${prefix}-${h}`,
        };
        holders.push(await startBenchChild("test/bench/session-holder.ts", config, options.fromSource, 120_000));
      }
      await untilAttached(admin, prefix, options.sessions);
      const attachedMiB = await rssMiB(replica.pid);
      const status = () => Promise.all(holders.map((h) => h.request<HolderStatus>({ type: "status" })));
      const beats = async () => (await status()).reduce((n, s) => n + s.heartbeatsOk, 0);
      const holderPids = holders.map((h) => h.pid);
      const beatsBefore = await beats();
      const cpuBefore = await cpuSnapshot([replica.pid]);
      const holdersBefore = await cpuSnapshot(holderPids);
      await new Promise((resolve) => setTimeout(resolve, options.holdMs));
      const cpu = cpuCost(cpuBefore, await cpuSnapshot([replica.pid]), 1);
      const holdersCpu = cpuCost(holdersBefore, await cpuSnapshot(holderPids), 1);
      const heldMiB = await rssMiB(replica.pid);
      const final = await status();
      await untilAttached(admin, prefix, options.sessions); // still all there
      results.push({
        layout,
        sessions: options.sessions,
        connections: connections * options.holders,
        baselineMiB,
        attachedMiB,
        heldMiB,
        perSessionKiB: round(((heldMiB - baselineMiB) * 1024) / options.sessions, 1),
        heldCores: { sagad: cpu.cores.sagad, postgres: cpu.cores.postgres, holders: holdersCpu.cores.sagad },
        heartbeatsPerSec: round(((await beats()) - beatsBefore) / (options.holdMs / 1000), 1),
        heartbeatErrors: final.reduce((n, s) => n + s.heartbeatErrors, 0),
        streamErrors: final.reduce((n, s) => n + s.streamErrors, 0),
      });
      log(`worker-rss ${layout}: ${attachedMiB} MiB attached, ${heldMiB} MiB after ${options.holdMs / 1000} s`);
    } finally {
      await Promise.all(holders.map((h) => h.stop()));
      await replica.stop();
    }
  }
  return results;
}
