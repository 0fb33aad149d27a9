import type { DefinitionClient, SagaClient } from "../../src/client/index.js";
import { cpuCost, cpuSnapshot } from "./cpu-usage.js";
import { driveSagas, type CreateSagaInit } from "./drive.js";
import { withClient } from "./environment.js";
import { median, percentiles, round, type Percentiles } from "./stats.js";

/**
 * CreateSaga from a registered definition against the same saga given inline, in the same run.
 * A warm replica renders a definition's saga from its caches (compiled spec and head, by name and
 * version); the batched insert checks the head, so the two kinds should cost Postgres the same.
 */
export interface DefinitionCreateResult {
  definition: { name: string; version: number };
  concurrency: number;
  sagasPerRound: number;
  /** Only the CreateSaga RPC: creates answered per second (the sagas still run in the background). */
  createOnly: PairResult;
  /** CreateSaga, then WatchSaga until COMPLETED, as the throughput scenario drives sagas. */
  endToEnd: PairResult;
}

export interface PairResult {
  /** Median round, per second (creates/s or completed sagas/s). */
  inlinePerSec: number;
  definitionPerSec: number;
  /** definition / inline medians. */
  ratio: number;
  /** Each round's rate, in the order run (inline and definition alternate). */
  inlineRounds: number[];
  definitionRounds: number[];
  /** Per-round ratio of the pair run back to back (inline first). */
  pairRatios: number[];
  /** CreateSaga sent → answered (create-only) or → COMPLETED received (end to end), median round. */
  inlineLatencyMs: Percentiles;
  definitionLatencyMs: Percentiles;
  /**
   * CPU ms per saga, median over the rounds, from the round's start until its last saga completed
   * (so a create-only round includes running its sagas): each party, and their total.
   */
  inlineCpuMsPerSaga: CpuPerSaga;
  definitionCpuMsPerSaga: CpuPerSaga;
  notCompleted: number;
}

export interface CpuPerSaga {
  sagad: number;
  client: number;
  postgres: number;
  total: number;
}

export interface DefinitionCreateOptions {
  sagas: number;
  steps: number;
  concurrency: number;
  rounds: number;
  batchEvents: boolean;
}

const NAME = "bench-definition";

/** The throughput scenario's sequential noop chain, config read from a var (`{{vars.i}}`). */
function steps(count: number) {
  return Array.from({ length: count }, (_, s) => ({
    name: `s${s + 1}`,
    action: "noop",
    config: { i: "{{vars.i}}" },
    dependsOn: s > 0 ? [`s${s}`] : [],
  }));
}

type Kind = "inline" | "definition";

export async function definitionCreateScenario(
  sagaClient: SagaClient,
  definitions: DefinitionClient,
  databaseUrl: string,
  sagadPid: number,
  options: DefinitionCreateOptions,
  log: (msg: string) => void,
): Promise<DefinitionCreateResult> {
  const { definition } = await definitions.registerDefinition({
    spec: {
      name: NAME,
      description: "bench: the throughput scenario's noop chain, started by name",
      varsSchema: { type: "object", properties: { i: { type: "integer", minimum: 0 } }, required: ["i"] },
      steps: steps(options.steps),
    },
  });
  const version = definition!.version;
  const inlineSteps = steps(options.steps);
  const request = (kind: Kind, label: string) => (i: number): CreateSagaInit =>
    kind === "inline"
      ? { name: NAME, labels: { bench: label }, vars: { i: String(i) }, steps: inlineSteps }
      : { labels: { bench: label }, vars: { i: String(i) }, definitionRef: { name: NAME, version } };

  // Warm both paths (the definition's compiled spec lands in the replica's cache here).
  for (const kind of ["inline", "definition"] as const) {
    await createOnly(sagaClient, request(kind, `defcreate-warm-${kind}`), 200, options.concurrency);
  }
  await drained(databaseUrl);
  await settle();
  const cpuOf = (rs: { cpu: CpuPerSaga }[]): CpuPerSaga => {
    const m = (k: keyof CpuPerSaga) => round(median(rs.map((x) => x.cpu[k])), 3);
    return { sagad: m("sagad"), client: m("client"), postgres: m("postgres"), total: m("total") };
  };

  const run = async (what: "create-only" | "end-to-end"): Promise<PairResult> => {
    type Round = { perSec: number; latencies: number[]; notCompleted: number; cpu: CpuPerSaga };
    const rounds: Record<Kind, Round[]> = { inline: [], definition: [] };
    for (let r = 1; r <= options.rounds; r++) {
      for (const kind of ["inline", "definition"] as const) {
        const label = `defcreate-${what}-${kind}-${r}`;
        let perSec: number, latencies: number[], notCompleted = 0;
        const cpuBefore = await cpuSnapshot([sagadPid]);
        if (what === "create-only") {
          ({ perSec, latencies } = await createOnly(sagaClient, request(kind, label), options.sagas, options.concurrency));
        } else {
          const d = await driveSagas(sagaClient, {
            count: options.sagas, steps: options.steps, concurrency: options.concurrency, shape: "sequential", label,
            batchEvents: options.batchEvents, request: request(kind, label),
          });
          perSec = options.sagas / (d.elapsedMs / 1000);
          latencies = d.latenciesMs;
          notCompleted = d.notCompleted;
        }
        // Created sagas run on after a create-only round: let them finish before the next round.
        await drained(databaseUrl);
        const { msPerStep } = cpuCost(cpuBefore, await cpuSnapshot([sagadPid]), options.sagas);
        rounds[kind].push({ perSec, latencies, notCompleted, cpu: msPerStep });
        await settle();
        log(`definition-create ${what} ${kind} round ${r}: ${round(perSec, 0)}/s`);
      }
    }
    const mid = (kind: Kind) => {
      const sorted = [...rounds[kind]].sort((a, b) => a.perSec - b.perSec);
      return sorted[Math.floor((sorted.length - 1) / 2)]!;
    };
    const inline = mid("inline");
    const def = mid("definition");
    return {
      inlinePerSec: round(median(rounds.inline.map((x) => x.perSec)), 0),
      definitionPerSec: round(median(rounds.definition.map((x) => x.perSec)), 0),
      ratio: round(median(rounds.definition.map((x) => x.perSec)) / median(rounds.inline.map((x) => x.perSec)), 3),
      inlineRounds: rounds.inline.map((x) => round(x.perSec, 0)),
      definitionRounds: rounds.definition.map((x) => round(x.perSec, 0)),
      pairRatios: rounds.inline.map((x, i) => round(rounds.definition[i]!.perSec / x.perSec, 3)),
      inlineLatencyMs: percentiles(inline.latencies),
      definitionLatencyMs: percentiles(def.latencies),
      inlineCpuMsPerSaga: cpuOf(rounds.inline),
      definitionCpuMsPerSaga: cpuOf(rounds.definition),
      notCompleted: [...rounds.inline, ...rounds.definition].reduce((n, x) => n + x.notCompleted, 0),
    };
  };

  const createOnlyResult = await run("create-only");
  const endToEnd = await run("end-to-end");
  return {
    definition: { name: NAME, version },
    concurrency: options.concurrency,
    sagasPerRound: options.sagas,
    createOnly: createOnlyResult,
    endToEnd,
  };
}

/** `count` CreateSaga calls, `concurrency` in flight; only the RPC is timed, not the saga's run. */
async function createOnly(
  client: SagaClient,
  request: (i: number) => CreateSagaInit,
  count: number,
  concurrency: number,
): Promise<{ perSec: number; latencies: number[] }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const req = request(next++);
        const t0 = performance.now();
        await client.createSaga(req);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { perSec: count / ((performance.now() - started) / 1000), latencies };
}

/** Waits until no saga is left running (the bench's database holds only the bench's sagas). */
async function drained(databaseUrl: string, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await withClient(databaseUrl, async (c) => {
    for (;;) {
      const { rows } = await c.query<{ n: string }>(
        "SELECT count(*) AS n FROM sagas WHERE status NOT IN ('COMPLETED', 'FAILED', 'COMPENSATED', 'COMPENSATION_FAILED', 'CANCELLED')",
      );
      if (rows[0]!.n === "0") return;
      if (Date.now() > deadline) throw new Error(`definition-create: ${rows[0]!.n} sagas still running after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });
}

/** A moment for autovacuum and the WAL writer between rounds, the same for both kinds. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 500));
}
