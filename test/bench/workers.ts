import type { SagaClient, WorkerClient } from "../../src/client/index.js";
import { DEFAULT_WORKER_SETTINGS } from "../../src/workers/worker-settings.js";
import { startBenchChild, type BenchChild } from "./bench-child.js";
import { cpuCost, cpuSnapshot, processCpuMs, type CpuCost } from "./cpu-usage.js";
import { costPerStep, readCounters, resetStatements, topStatements, type DbCost, type StatementCost } from "./db-cost.js";
import { driveSagas, type CreateSagaInit, type DriveResult } from "./drive.js";
import { withClient } from "./environment.js";
import { median, medianRound, percentiles, round, type Percentiles } from "./stats.js";
import type { TaskSample, WorkerProcessConfig } from "./worker-samples.js";

/** The action the bench's worker processes serve; any name not built into sagad is a worker action. */
export const WORKER_ACTION = "bench-work";

export interface WorkerPool {
  readonly processes: BenchChild[];
  readonly slots: number;
  /** Every sample the processes recorded since the last call, and forgets them. */
  take(): Promise<TaskSample[]>;
  stop(): Promise<void>;
}

/**
 * `count` worker processes (the TS SDK with its defaults, `slots` each) on `url`; resolves once
 * every one has its Subscribe stream attached, per ListWorkers.
 */
export async function startWorkerPool(
  url: string,
  token: string,
  admin: WorkerClient,
  count: number,
  slots: number,
  fromSource: boolean,
): Promise<WorkerPool> {
  const processes = await Promise.all(
    Array.from({ length: count }, (_, i) => {
      const config: WorkerProcessConfig = { url, token, instanceId: `bench-worker-${i + 1}`, slots, action: WORKER_ACTION, ackTimeoutMs: DEFAULT_WORKER_SETTINGS.ackTimeoutMs };
      return startBenchChild("test/bench/worker-process.ts", config, fromSource);
    }),
  );
  await untilAttached(admin, "bench-worker-", count);
  return {
    processes,
    slots,
    take: async () => (await Promise.all(processes.map((p) => p.request<TaskSample[]>({ type: "take" })))).flat(),
    stop: async () => void (await Promise.all(processes.map((p) => p.stop()))),
  };
}

/** Waits until ListWorkers shows `count` sessions of `prefix` with a Subscribe stream on some replica. */
export async function untilAttached(admin: WorkerClient, prefix: string, count: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { workers } = await admin.listWorkers({});
    const attached = workers.filter((w) => w.instanceId.startsWith(prefix) && w.replicaId !== "").length;
    if (attached >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${attached} of ${count} ${prefix}* sessions attached after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A chain s1 → s2 → … of `action` steps, as the throughput scenario's sequential shape. */
export function chainRequest(name: string, label: string, steps: number, action: string, i: number): CreateSagaInit {
  return {
    name,
    labels: { bench: label },
    steps: Array.from({ length: steps }, (_, s) => ({
      name: `s${s + 1}`,
      action,
      config: { i },
      dependsOn: s > 0 ? [`s${s}`] : [],
    })),
  };
}

/**
 * How long from a step being ready to its worker having it, per task: every time from this
 * machine's one clock, in ms (Date.now() on both sides, so each difference is ±1 ms).
 */
export interface DispatchBreakdown {
  /** STEP_STARTED's time (the transition that starts the attempt, decided; its commit follows) → the Task off the Subscribe stream. */
  readyToArrived: Percentiles;
  /** STEP_STARTED → the handler starts (after the SDK's AckTasks). */
  readyToHandler: Percentiles;
  /** STEP_STARTED → the replica offers the task (its commit, then the hand-off to the dispatcher). */
  readyToOffered: Percentiles;
  /** The offer → the Task off the stream: the offer's UPDATE, signing, encoding, HTTP/2, decoding. */
  offeredToArrived: Percentiles;
  /** The Task off the stream → the handler starts: the SDK's 1 ms ack batch and the AckTasks call. */
  arrivedToHandler: Percentiles;
  /** Tasks with a sample but no STEP_STARTED or no arrival time (should be 0). */
  unmatched: number;
}

interface Matched {
  sample: TaskSample;
  readyAt: number;
}

/** Joins the workers' samples with each step's first STEP_STARTED from the saga history. */
export async function matchSamples(databaseUrl: string, samples: readonly TaskSample[]): Promise<{ matched: Matched[]; unmatched: number }> {
  const ids = [...new Set(samples.map((s) => s.sagaId))];
  const readyAt = new Map<string, number>();
  await withClient(databaseUrl, async (c) => {
    for (let i = 0; i < ids.length; i += 5_000) {
      const { rows } = await c.query<{ saga_id: string; step: string; at: number }>(
        `SELECT DISTINCT ON (saga_id, body->>'step') saga_id::text, body->>'step' AS step, extract(epoch FROM at)::float8 * 1000 AS at
         FROM saga_events WHERE saga_id = ANY($1::uuid[]) AND type = 'STEP_STARTED' ORDER BY saga_id, body->>'step', sequence`,
        [ids.slice(i, i + 5_000)],
      );
      for (const r of rows) readyAt.set(`${r.saga_id}|${r.step}`, Math.round(r.at));
    }
  });
  const matched: Matched[] = [];
  let unmatched = 0;
  for (const sample of samples) {
    const at = readyAt.get(`${sample.sagaId}|${sample.step}`);
    if (at === undefined || sample.arrivedAt === null || sample.offeredAt === null || sample.attempt !== 1 || sample.delivery !== 1) unmatched++;
    else matched.push({ sample, readyAt: at });
  }
  return { matched, unmatched };
}

export function breakdown(matched: readonly Matched[], unmatched: number): DispatchBreakdown {
  const of = (f: (m: Matched) => number) => percentiles(matched.map(f));
  return {
    readyToArrived: of((m) => m.sample.arrivedAt! - m.readyAt),
    readyToHandler: of((m) => m.sample.handlerAt - m.readyAt),
    readyToOffered: of((m) => m.sample.offeredAt! - m.readyAt),
    offeredToArrived: of((m) => m.sample.arrivedAt! - m.sample.offeredAt!),
    arrivedToHandler: of((m) => m.sample.handlerAt - m.sample.arrivedAt!),
    unmatched,
  };
}

// ---------------------------------------------------------------------------------------------
// 1. Throughput: the same chains on workers and in process, alternating rounds

export interface WorkersThroughputOptions {
  sagas: number;
  steps: number;
  concurrency: number;
  rounds: number;
  batchEvents: boolean;
}

export interface KindResult {
  sagasPerSec: number;
  stepsPerSec: number;
  /** stepsPerSec / pgbench TPS of the same run. */
  ratioToBaseline: number | null;
  roundsStepsPerSec: number[];
  latencyMs: Percentiles;
  /** STEP_STARTED → next STEP_STARTED along the chain, from the watched events (median round). */
  cycleMs: Percentiles;
  dbCost: DbCost;
  cpu: CpuCost;
  /** CPU ms per step of the worker processes together (0 in process), and cores they used. */
  workerCpuMsPerStep: number;
  workerCores: number;
  notCompleted: number;
}

export interface WorkersThroughputResult {
  workerProcesses: number;
  slotsPerProcess: number;
  concurrency: number;
  sagasPerRound: number;
  inProcess: KindResult;
  workers: KindResult;
  /** workers / in-process, medians of steps/s. */
  ratio: number;
  /** Per round, the pair run back to back. */
  pairRatios: number[];
  /** Dispatch at C=50, median worker round: s1 is started by the create, s2… by the previous step's result. */
  dispatch: { firstStep: DispatchBreakdown; laterSteps: DispatchBreakdown };
  /** pg_stat_statements over the last round of each kind, costliest first (embedded Postgres only). */
  statements: { workers: StatementCost[]; inProcess: StatementCost[] } | null;
}

type Kind = "inProcess" | "workers";

export async function workersThroughput(
  client: SagaClient,
  pool: WorkerPool,
  db: { url: string; statementStats: boolean },
  sagadPid: number,
  baselineTps: number | null,
  options: WorkersThroughputOptions,
  log: (msg: string) => void,
): Promise<WorkersThroughputResult> {
  const steps = options.sagas * options.steps;
  const request = (kind: Kind, label: string) => (i: number) =>
    chainRequest(`bench-${label}`, label, options.steps, kind === "workers" ? WORKER_ACTION : "noop", i);
  const drive = (kind: Kind, label: string, count: number) =>
    driveSagas(client, { count, steps: options.steps, concurrency: options.concurrency, shape: "sequential", label, batchEvents: options.batchEvents, request: request(kind, label) });
  log("workers: warm-up, 200 sagas on the workers");
  await drive("workers", "workers-warmup", 200);
  await pool.take();

  type Round = { drive: DriveResult; stepsPerSec: number; cost: DbCost; cpu: CpuCost; workerMs: number; samples: TaskSample[] };
  const rounds: Record<Kind, Round[]> = { inProcess: [], workers: [] };
  const statements: Record<Kind, StatementCost[]> = { inProcess: [], workers: [] };
  const workerPids = pool.processes.map((p) => p.pid);
  const workerCpu = async () => (await Promise.all(workerPids.map(processCpuMs))).reduce((a, b) => a + b, 0);
  for (let r = 1; r <= options.rounds; r++) {
    const order: Kind[] = r % 2 === 1 ? ["inProcess", "workers"] : ["workers", "inProcess"];
    for (const kind of order) {
      const label = `workers-${kind}-${r}`;
      await resetStatements(db.url, db.statementStats);
      const before = await readCounters(db.url, db.statementStats);
      const cpuBefore = await cpuSnapshot([sagadPid]);
      const wBefore = await workerCpu();
      const d = await drive(kind, label, options.sagas);
      const wAfter = await workerCpu();
      const cpu = cpuCost(cpuBefore, await cpuSnapshot([sagadPid]), steps);
      const after = await readCounters(db.url, db.statementStats);
      statements[kind] = (await topStatements(db.url, db.statementStats, 15)) ?? [];
      const stepsPerSec = steps / (d.elapsedMs / 1000);
      const samples = kind === "workers" ? await pool.take() : [];
      rounds[kind].push({ drive: d, stepsPerSec, cost: costPerStep(before, after, steps), cpu, workerMs: wAfter - wBefore, samples });
      log(`workers round ${r} ${kind}: ${round(stepsPerSec, 0)} steps/s`);
    }
  }
  const summary = (kind: Kind): KindResult => {
    const m = medianRound(rounds[kind], (x) => x.stepsPerSec);
    return {
      sagasPerSec: round(m.stepsPerSec / options.steps, 1),
      stepsPerSec: round(m.stepsPerSec, 0),
      ratioToBaseline: baselineTps ? round(m.stepsPerSec / baselineTps, 3) : null,
      roundsStepsPerSec: rounds[kind].map((x) => round(x.stepsPerSec, 0)),
      latencyMs: percentiles(m.drive.latenciesMs),
      cycleMs: percentiles(m.drive.cycleMs),
      dbCost: m.cost,
      cpu: m.cpu,
      workerCpuMsPerStep: round(m.workerMs / steps, 3),
      workerCores: round(m.workerMs / m.drive.elapsedMs, 2),
      notCompleted: m.drive.notCompleted,
    };
  };
  const medianWorkers = medianRound(rounds.workers, (x) => x.stepsPerSec);
  const { matched, unmatched } = await matchSamples(db.url, medianWorkers.samples);
  const s1 = matched.filter((m) => m.sample.step === "s1");
  const later = matched.filter((m) => m.sample.step !== "s1");
  return {
    workerProcesses: pool.processes.length,
    slotsPerProcess: pool.slots,
    concurrency: options.concurrency,
    sagasPerRound: options.sagas,
    inProcess: summary("inProcess"),
    workers: summary("workers"),
    ratio: round(median(rounds.workers.map((x) => x.stepsPerSec)) / median(rounds.inProcess.map((x) => x.stepsPerSec)), 3),
    pairRatios: rounds.inProcess.map((x, i) => round(rounds.workers[i]!.stepsPerSec / x.stepsPerSec, 3)),
    dispatch: { firstStep: breakdown(s1, unmatched), laterSteps: breakdown(later, 0) },
    statements: db.statementStats ? statements : null,
  };
}

// ---------------------------------------------------------------------------------------------
// 2. Dispatch latency at C=1

export interface DispatchResult {
  sagasPerRound: number;
  steps: number;
  rounds: number;
  /** Every round's worker tasks together; s1 is started by CreateSaga's insert, s2… by CompleteTask's transition. */
  firstStep: DispatchBreakdown;
  laterSteps: DispatchBreakdown;
  /** Client clock: CreateSaga sent → s1's Task off the stream / s1's handler started. */
  createSentToArrived: Percentiles;
  createSentToHandler: Percentiles;
  /** Create → resting, C=1, the same chain on workers and in process (alternating rounds, all rounds). */
  workersLatencyMs: Percentiles;
  inProcessLatencyMs: Percentiles;
  /** STEP_STARTED → next STEP_STARTED: on workers a result's round trip, in process a noop. */
  workersCycleMs: Percentiles;
  inProcessCycleMs: Percentiles;
}

export async function dispatchScenario(
  client: SagaClient,
  pool: WorkerPool,
  databaseUrl: string,
  options: { sagas: number; steps: number; rounds: number; batchEvents: boolean },
  log: (msg: string) => void,
): Promise<DispatchResult> {
  await pool.take();
  const sentAt = new Map<string, number>();
  const samples: TaskSample[] = [];
  const drives: Record<Kind, DriveResult[]> = { inProcess: [], workers: [] };
  for (let r = 1; r <= options.rounds; r++) {
    for (const kind of ["workers", "inProcess"] as const) {
      const label = `dispatch-${kind}-${r}`;
      const d = await driveSagas(client, {
        count: options.sagas, steps: options.steps, concurrency: 1, shape: "sequential", label, batchEvents: options.batchEvents,
        request: (i) => {
          const name = `bench-${label}-${i}`;
          sentAt.set(name, Date.now());
          return chainRequest(name, label, options.steps, kind === "workers" ? WORKER_ACTION : "noop", i);
        },
      });
      drives[kind].push(d);
      if (kind === "workers") samples.push(...(await pool.take()));
      log(`dispatch C=1 round ${r} ${kind}: create -> resting p50 ${percentiles(d.latenciesMs).p50} ms`);
    }
  }
  const { matched, unmatched } = await matchSamples(databaseUrl, samples);
  const s1 = matched.filter((m) => m.sample.step === "s1");
  const all = (kind: Kind, f: (d: DriveResult) => number[]) => percentiles(drives[kind].flatMap(f));
  return {
    sagasPerRound: options.sagas,
    steps: options.steps,
    rounds: options.rounds,
    firstStep: breakdown(s1, unmatched),
    laterSteps: breakdown(matched.filter((m) => m.sample.step !== "s1"), 0),
    createSentToArrived: percentiles(s1.map((m) => m.sample.arrivedAt! - sentAt.get(m.sample.sagaName)!)),
    createSentToHandler: percentiles(s1.map((m) => m.sample.handlerAt - sentAt.get(m.sample.sagaName)!)),
    workersLatencyMs: all("workers", (d) => d.latenciesMs),
    inProcessLatencyMs: all("inProcess", (d) => d.latenciesMs),
    workersCycleMs: all("workers", (d) => d.cycleMs),
    inProcessCycleMs: all("inProcess", (d) => d.cycleMs),
  };
}
