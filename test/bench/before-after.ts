import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { createSagaClient } from "../../src/client/index.js";
import { startSagad, type RunningSagad } from "../helpers/replica-process.js";
import { cpuCost, cpuSnapshot, type CpuCost } from "./cpu-usage.js";
import { driveSagas, type DriveResult } from "./drive.js";
import { COMPILED_ENTRY, openBenchDatabase, replicaEnv, type BenchDatabase } from "./environment.js";
import { median, medianRound, percentiles, round, type Percentiles } from "./stats.js";

const run = promisify(execFile);

/**
 * The throughput scenario's in-process path (sequential noop chains, C=50) on two builds, each on
 * a fresh scratch database of its own (an older sagad refuses a newer schema), alternating rounds:
 * a checkout of an older commit (`--before-dir`, e.g. a `git worktree`) and this tree.
 */
export interface BeforeAfterResult {
  beforeDir: string;
  beforeCommit: string;
  afterCommit: string;
  sagasPerRound: number;
  concurrency: number;
  before: Side;
  after: Side;
  /** after / before, medians of steps/s. */
  ratio: number;
  pairRatios: number[];
}

interface Side {
  stepsPerSec: number;
  ratioToBaseline: number | null;
  roundsStepsPerSec: number[];
  latencyMs: Percentiles;
  cpu: CpuCost;
}

export interface BeforeAfterOptions {
  beforeDir: string;
  sagas: number;
  steps: number;
  concurrency: number;
  rounds: number;
  batchEvents: boolean;
  fromSource: boolean;
  nodeArgs: string[];
  /** This tree's compiled entry (the bench's own build); the older tree runs its `dist/`. */
  afterEntry: string | undefined;
}

type Tree = "before" | "after";

export async function beforeAfterScenario(afterDir: string, baselineTps: number | null, options: BeforeAfterOptions, log: (msg: string) => void): Promise<BeforeAfterResult> {
  const dirs: Record<Tree, string> = { before: path.resolve(options.beforeDir), after: afterDir };
  const commit = async (dir: string) => (await run("git", ["rev-parse", "--short", "HEAD"], { cwd: dir })).stdout.trim();
  if (!options.fromSource) {
    log(`before-after: building ${dirs.before}`);
    await run("npm", ["run", "-s", "build"], { cwd: dirs.before });
  }
  const dbs: BenchDatabase[] = [];
  const replicas: Partial<Record<Tree, RunningSagad>> = {};
  try {
    const clients = {} as Record<Tree, ReturnType<typeof createSagaClient>>;
    for (const tree of ["before", "after"] as const) {
      const db = await openBenchDatabase(`sagad_bench_${tree}`);
      dbs.push(db);
      const entry = options.fromSource ? undefined : tree === "after" && options.afterEntry ? options.afterEntry : COMPILED_ENTRY;
      const token = await treeToken(dirs[tree], db.url, entry);
      replicas[tree] = await startSagad({ env: replicaEnv(db.url, `bench-${tree}`), cwd: dirs[tree], nodeArgs: options.nodeArgs, compiledEntry: entry });
      clients[tree] = createSagaClient(replicas[tree].url, { protocol: "grpc", headers: { authorization: `Bearer ${token}` } });
      await driveSagas(clients[tree], { count: 200, steps: options.steps, concurrency: options.concurrency, shape: "sequential", label: `ba-warmup-${tree}`, batchEvents: options.batchEvents });
    }
    type Round = { drive: DriveResult; stepsPerSec: number; cpu: CpuCost };
    const rounds: Record<Tree, Round[]> = { before: [], after: [] };
    const steps = options.sagas * options.steps;
    for (let r = 1; r <= options.rounds; r++) {
      const order: Tree[] = r % 2 === 1 ? ["before", "after"] : ["after", "before"];
      for (const tree of order) {
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        const pid = replicas[tree]!.pid;
        const cpuBefore = await cpuSnapshot([pid]);
        const drive = await driveSagas(clients[tree], { count: options.sagas, steps: options.steps, concurrency: options.concurrency, shape: "sequential", label: `ba-${tree}-${r}`, batchEvents: options.batchEvents });
        const cpu = cpuCost(cpuBefore, await cpuSnapshot([pid]), steps);
        const stepsPerSec = steps / (drive.elapsedMs / 1000);
        rounds[tree].push({ drive, stepsPerSec, cpu });
        log(`before-after round ${r} ${tree}: ${round(stepsPerSec, 0)} steps/s`);
      }
    }
    const side = (tree: Tree): Side => {
      const m = medianRound(rounds[tree], (x) => x.stepsPerSec);
      return {
        stepsPerSec: round(m.stepsPerSec, 0),
        ratioToBaseline: baselineTps ? round(m.stepsPerSec / baselineTps, 3) : null,
        roundsStepsPerSec: rounds[tree].map((x) => round(x.stepsPerSec, 0)),
        latencyMs: percentiles(m.drive.latenciesMs),
        cpu: m.cpu,
      };
    };
    return {
      beforeDir: dirs.before,
      beforeCommit: await commit(dirs.before),
      afterCommit: await commit(dirs.after),
      sagasPerRound: options.sagas,
      concurrency: options.concurrency,
      before: side("before"),
      after: side("after"),
      ratio: round(median(rounds.after.map((x) => x.stepsPerSec)) / median(rounds.before.map((x) => x.stepsPerSec)), 3),
      pairRatios: rounds.before.map((x, i) => round(rounds.after[i]!.stepsPerSec / x.stepsPerSec, 3)),
    };
  } finally {
    await Promise.all(Object.values(replicas).map((r) => r.stop()));
    for (const db of dbs) await db.close();
  }
}

/** An admin token made by that tree's own CLI, which also migrates the fresh database to its schema. */
async function treeToken(dir: string, databaseUrl: string, compiledEntry: string | undefined): Promise<string> {
  const entry = compiledEntry ? [compiledEntry] : ["--import", "tsx", "src/main.ts"];
  const { stdout } = await run(process.execPath, [...entry, "token", "create", "--scope", "admin", "--name", `bench-${Date.now()}`], {
    cwd: dir,
    env: { ...process.env, DATABASE_URL: databaseUrl },
  });
  return stdout.trim();
}
