import { execFile } from "node:child_process";
import os from "node:os";
import { promisify } from "node:util";
import path from "node:path";
import { createDefinitionClient, createSagaClient, type SagaClient } from "../../src/client/index.js";
import type { RunningSagad } from "../helpers/replica-process.js";
import { pgbenchBaseline } from "./baseline.js";
import { cpuCost, cpuSnapshot, type CpuCost } from "./cpu-usage.js";
import { definitionCreateScenario, type DefinitionCreateResult } from "./definition-create.js";
import { costPerStep, readCounters, resetStatements, topStatements, type DbCost, type StatementCost } from "./db-cost.js";
import { driveSagas, type DriveResult, type Shape } from "./drive.js";
import { beforeAfterScenario, type BeforeAfterResult } from "./before-after.js";
import { consoleScenario, type ConsoleResult } from "./console.js";
import { printConsoleTable } from "./console-report.js";
import { buildServer, createAdminToken, createToken, openBenchDatabase, rssMiB, startReplicas, withClient, type BenchDatabase } from "./environment.js";
import { parseBenchFlags, USAGE, type BenchOptions } from "./flags.js";
import { fillSagas, measureList, type ListResult } from "./list.js";
import { watchStreamsOpen } from "./metrics-probe.js";
import { printTable } from "./report.js";
import { medianRound, percentiles, round, type Percentiles } from "./stats.js";
import { openIdleStreams } from "./watch.js";
import { watchFloorSeries, watchSeries, type WatchSeries } from "./watch-scenarios.js";
import { workerRssScenario, type WorkerRssLayout } from "./worker-rss.js";
import { dispatchScenario, startWorkerPool, workersThroughput, type DispatchResult, type WorkerPool, type WorkersThroughputResult } from "./workers.js";
import { PROJECT_ROOT } from "../helpers/replica-process.js";
import { createWorkerClient } from "../../src/client/index.js";

/** One throughput measurement: the median round, plus every round's headline for spread. */
export interface ThroughputResult {
  shape: Shape;
  sagasPerSec: number;
  stepsPerSec: number;
  /** stepsPerSec / pgbench TPS of the same run. */
  ratioToBaseline: number | null;
  latencyMs: Percentiles;
  dispatchMs: Percentiles | null;
  /** STEP_STARTED → next STEP_STARTED in the chain (sequential only). */
  cycleMs: Percentiles | null;
  dbCost: DbCost;
  /** Who used the cores during the median round, and the CPU each party spent per step. */
  cpu: CpuCost;
  roundsStepsPerSec: number[];
  notCompleted: number;
}

export interface BenchResult {
  startedAt: string;
  machine: { cpus: number; node: string; postgres: string; database: "external" | "embedded" };
  /** The commit built, and the files under src/ that differed from it (others edit the tree as the bench runs). */
  code: { commit: string; dirtySrc: string[] };
  options: Omit<BenchOptions, "only"> & { only: string[] };
  baseline: { pgbenchSingleRowUpdateTps: number } | null;
  throughput: ThroughputResult[];
  latency: {
    serial: {
      latencyMs: Percentiles;
      dispatchMs: Percentiles;
      cycleMs: Percentiles;
      /** From CreateSaga sent: its answer, the last transition decided, the resting event received. */
      timelineMs: { createAnswered: Percentiles; lastDecided: Percentiles; restingReceived: Percentiles };
    } | null;
    /** pg_stat_statements over the C=1 rounds alone (embedded Postgres only). */
    statements: StatementCost[] | null;
  };
  /** CreateSaga from a registered definition against the same saga inline, alternating rounds. */
  definitionCreate: DefinitionCreateResult | null;
  /** Streams on the replica driving the sagas, and on another one (delivery over LISTEN/NOTIFY). */
  /** sameReplicaBatched: the same replica's streams with batch_events (a commit's events in one message). */
  watch: { sameReplica: WatchSeries; sameReplicaBatched: WatchSeries; crossReplica: WatchSeries } | null;
  /** The same loads served by a bare Connect-ES server: what the framework alone costs. */
  watchFloor: WatchSeries | null;
  rss: { baselineMiB: number; streams: { open: number; rssMiB: number }[] } | null;
  list: ListResult[];
  /** The same 5-step chains on TS SDK worker processes and in process (noop), alternating rounds. */
  workers: WorkersThroughputResult | null;
  /** Step ready → worker has it, C=1, and the chain's latency on workers against in process. */
  dispatch: DispatchResult | null;
  /** RSS of one replica holding idle worker sessions, sessions sharing a few HTTP/2 connections and one each. */
  workerRss: WorkerRssLayout[] | null;
  /** The in-process throughput of an older build (`--before-dir`) against this tree, alternating rounds. */
  beforeAfter: BeforeAfterResult | null;
  /** The web console in headless Chromium: first load's scripts, the 200-step saga's page, frames at ~100 events/s. */
  console: ConsoleResult | null;
  /** pg_stat_statements from the C=1 rounds to the end, costliest first (embedded Postgres only). */
  topStatements: StatementCost[] | null;
}

async function main(): Promise<void> {
  if (process.argv.includes("--help")) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let options: BenchOptions;
  try {
    options = parseBenchFlags(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
  const db = await openBenchDatabase();
  let replicas: RunningSagad[] = [];
  try {
    log(`database: ${db.kind}${db.statementStats ? " (pg_stat_statements on)" : ""}`);
    const result = await runAll(options, db, log, (r) => (replicas = r));
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    printTable(result);
    if (result.console) printConsoleTable(result.console, result.baseline?.pgbenchSingleRowUpdateTps ?? null);
  } finally {
    await Promise.all(replicas.map((r) => r.stop()));
    await db.close();
  }
}

async function runAll(
  options: BenchOptions,
  db: BenchDatabase,
  log: (msg: string) => void,
  started: (replicas: RunningSagad[]) => void,
): Promise<BenchResult> {
  const on = (s: Parameters<typeof options.only.has>[0]) => options.only.has(s);
  const postgres = await withClient(db.url, async (c) => (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v);
  let baseline: BenchResult["baseline"] = null;
  if (on("baseline")) {
    log(`pgbench single-row UPDATE, 8 clients, ${options.baselineSeconds}s`);
    baseline = { pgbenchSingleRowUpdateTps: round(await pgbenchBaseline(db.url, options.baselineSeconds), 0) };
    log(`baseline: ${baseline.pgbenchSingleRowUpdateTps} TPS`);
  }
  const code = await codeState();
  log(`code: ${code.commit}${code.dirtySrc.length > 0 ? ` + ${code.dirtySrc.length} uncommitted src/ files` : ""}`);
  const profile = options.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${path.resolve(options.profileDir)}`] : [];
  log(options.fromSource ? "sagad from src/ through tsx" : "building sagad (tsc as npm run build does, into a directory of its own); replicas run that");
  const entry = options.fromSource ? undefined : await buildServer();
  // The token first, so the replicas load it as they start instead of racing its NOTIFY.
  const token = await createAdminToken(db.url);
  const workerToken = on("workers") || on("dispatch") || on("worker-rss") ? await createToken(db.url, "workers", `bench-workers-${Date.now()}`) : "";
  const replicas = await startReplicas(db.url, on("watch") ? 2 : 1, {}, "bench", profile, entry);
  started(replicas);
  const clientOf = (url: string): SagaClient => createSagaClient(url, { protocol: "grpc", headers: { authorization: `Bearer ${token}` } });
  const a = replicas[0]!;
  const client = clientOf(a.url);
  const ratio = (rate: number) => (baseline ? round(rate / baseline.pgbenchSingleRowUpdateTps, 3) : null);

  log("warm-up: 200 sagas");
  await driveSagas(client, { count: 200, steps: options.steps, concurrency: options.concurrency, shape: "sequential", label: "warmup", batchEvents: !options.oneByOne });

  const throughput: ThroughputResult[] = [];
  if (on("throughput")) {
    for (const shape of ["sequential", "parallel"] as const) {
      const rounds: { drive: DriveResult; cost: DbCost; cpu: CpuCost; stepsPerSec: number }[] = [];
      for (let r = 1; r <= options.rounds; r++) {
        const before = await readCounters(db.url, db.statementStats);
        const cpuBefore = await cpuSnapshot([a.pid]);
        const drive = await driveSagas(client, { count: options.sagas, steps: options.steps, concurrency: options.concurrency, shape, label: `${shape}-${r}`, batchEvents: !options.oneByOne });
        const cpu = cpuCost(cpuBefore, await cpuSnapshot([a.pid]), options.sagas * options.steps);
        const after = await readCounters(db.url, db.statementStats);
        const stepsPerSec = (options.sagas * options.steps) / (drive.elapsedMs / 1000);
        rounds.push({ drive, cost: costPerStep(before, after, options.sagas * options.steps), cpu, stepsPerSec });
        log(`throughput ${shape} round ${r}: ${round(stepsPerSec, 0)} steps/s`);
      }
      const m = medianRound(rounds, (x) => x.stepsPerSec);
      throughput.push({
        shape,
        sagasPerSec: round(m.stepsPerSec / options.steps, 1),
        stepsPerSec: round(m.stepsPerSec, 0),
        ratioToBaseline: ratio(m.stepsPerSec),
        latencyMs: percentiles(m.drive.latenciesMs),
        dispatchMs: shape === "sequential" ? percentiles(m.drive.dispatchMs) : null,
        cycleMs: shape === "sequential" ? percentiles(m.drive.cycleMs) : null,
        dbCost: m.cost,
        cpu: m.cpu,
        roundsStepsPerSec: rounds.map((x) => round(x.stepsPerSec, 0)),
        notCompleted: m.drive.notCompleted,
      });
    }
  }

  let serial: BenchResult["latency"]["serial"] = null;
  let serialStatements: StatementCost[] | null = null;
  if (on("latency")) {
    await resetStatements(db.url, db.statementStats);
    const rounds: DriveResult[] = [];
    for (let r = 1; r <= options.rounds; r++) {
      rounds.push(await driveSagas(client, { count: options.serialSagas, steps: options.steps, concurrency: 1, shape: "sequential", label: `serial-${r}`, batchEvents: !options.oneByOne }));
      log(`latency C=1 round ${r}: p50 ${percentiles(rounds.at(-1)!.latenciesMs).p50} ms`);
    }
    const m = medianRound(rounds, (x) => percentiles(x.latenciesMs).p50);
    serial = {
      latencyMs: percentiles(m.latenciesMs),
      dispatchMs: percentiles(m.dispatchMs),
      cycleMs: percentiles(m.cycleMs),
      timelineMs: {
        createAnswered: percentiles(m.timeline.createAnsweredMs),
        lastDecided: percentiles(m.timeline.lastDecidedMs),
        restingReceived: percentiles(m.timeline.restingReceivedMs),
      },
    };
    serialStatements = await topStatements(db.url, db.statementStats);
  }

  const definitionCreate = on("definition-create")
    ? await definitionCreateScenario(client, createDefinitionClient(a.url, { protocol: "grpc", token }), db.url, a.pid, { ...options, batchEvents: !options.oneByOne }, log)
    : null;

  let workers: WorkersThroughputResult | null = null;
  let dispatch: DispatchResult | null = null;
  if (on("workers") || on("dispatch")) {
    log(`workers: starting ${options.workerProcesses} TS SDK worker processes, ${options.workerSlots} slots each`);
    const admin = createWorkerClient(a.url, { protocol: "grpc", token });
    const pool: WorkerPool = await startWorkerPool(a.url, workerToken, admin, options.workerProcesses, options.workerSlots, options.fromSource);
    try {
      const batchEvents = !options.oneByOne;
      if (on("workers")) {
        workers = await workersThroughput(client, pool, db, a.pid, baseline?.pgbenchSingleRowUpdateTps ?? null, { ...options, batchEvents }, log);
      }
      if (on("dispatch")) {
        dispatch = await dispatchScenario(client, pool, db.url, { sagas: options.dispatchSagas, steps: options.steps, rounds: options.rounds, batchEvents }, log);
      }
    } finally {
      await pool.stop();
    }
  }

  let watch: BenchResult["watch"] = null;
  if (on("watch")) {
    const target = (label: string, replica: RunningSagad) => ({
      label,
      creator: client,
      watcherClient: () => clientOf(replica.url),
      server: { pid: replica.pid, streamsOpen: () => watchStreamsOpen(replica.url) },
    });
    watch = {
      sameReplica: await watchSeries(target("on the driving replica", a), options.watchers, options.watchSteps, log),
      sameReplicaBatched: await watchSeries(target("on the driving replica, batch_events", a), options.watchers, options.watchSteps, log, true),
      crossReplica: await watchSeries(target("on another replica", replicas[1]!), options.watchers, options.watchSteps, log),
    };
  }
  const launch = { nodeArgs: profile, fromSource: options.fromSource };
  const watchFloor = on("watch-floor") ? await watchFloorSeries(clientOf, options.watchers, options.watchSteps, launch, log) : null;

  let rss: BenchResult["rss"] = null;
  if (on("rss")) {
    const sagas = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const { saga } = await client.createSaga({ name: "bench-rss", steps: [{ name: "s", action: "noop" }] });
        const done = await client.getSaga({ id: saga!.id });
        return { id: saga!.id, sequence: done.saga!.sequence };
      }),
    );
    rss = { baselineMiB: await rssMiB(a.pid), streams: [] };
    for (const count of options.rssStreams) {
      log(`rss: opening ${count} idle streams`);
      const close = await openIdleStreams(() => clientOf(a.url), count, sagas, () => watchStreamsOpen(a.url));
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      rss.streams.push({ open: count, rssMiB: await rssMiB(a.pid) });
      await close();
    }
  }

  const list: ListResult[] = [];
  if (on("list")) {
    for (const size of options.listSizes) {
      log(`list: filling the table to ${size} sagas`);
      await fillSagas(db.url, size, Math.floor(Math.max(...options.listSizes) / 2));
      list.push(await measureList(client, size, db.url));
    }
  }

  const workerRss = on("worker-rss")
    ? await workerRssScenario(
        async (id) => (await startReplicas(db.url, 1, {}, id, profile, entry))[0]!,
        token,
        workerToken,
        { sessions: options.workerSessions, holders: options.sessionHolders, connectionsPerHolder: 10, holdMs: 15_000, fromSource: options.fromSource },
        log,
      )
    : null;

  const beforeAfter =
    on("before-after") && options.beforeDir
      ? await beforeAfterScenario(PROJECT_ROOT, baseline?.pgbenchSingleRowUpdateTps ?? null, { ...options, beforeDir: options.beforeDir, batchEvents: !options.oneByOne, nodeArgs: profile, afterEntry: entry }, log)
      : null;

  const consoleResult = on("console")
    ? await consoleScenario(a.url, token, client, a.pid, { loads: Math.max(5, options.rounds * 2 + 1), rounds: options.rounds, profileDir: options.profileDir }, log)
    : null;

  return {
    startedAt: new Date().toISOString(),
    machine: { cpus: os.cpus().length, node: process.version, postgres, database: db.kind },
    code,
    options: { ...options, only: [...options.only] },
    baseline,
    throughput,
    latency: { serial, statements: serialStatements },
    definitionCreate,
    watch,
    watchFloor,
    rss,
    list,
    workers,
    dispatch,
    workerRss,
    beforeAfter,
    console: consoleResult,
    topStatements: await topStatements(db.url, db.statementStats),
  };
}

async function codeState(): Promise<BenchResult["code"]> {
  const git = async (...args: string[]) => (await promisify(execFile)("git", args, { cwd: PROJECT_ROOT })).stdout;
  const commit = (await git("rev-parse", "--short", "HEAD")).trim();
  const dirtySrc = (await git("status", "--porcelain", "--", "src")).split("\n").filter(Boolean).map((l) => l.slice(3));
  return { commit, dirtySrc };
}

await main();
