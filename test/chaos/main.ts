import { Cleanup } from "./cleanup.js";
import { parseChaosFlags, USAGE, type ChaosOptions, type Scenario } from "./flags.js";
import { Random } from "./random.js";
import { printSummary, summarize, type ChaosReport } from "./report.js";
import { runBadInputScenario } from "./scenario-bad-input.js";
import { runKillScenario } from "./scenario-kill.js";
import { runPgRestartScenario } from "./scenario-pg-restart.js";
import { runSoakScenario } from "./scenario-soak.js";
import { runWorkersScenario } from "./scenario-workers.js";
import type { ScenarioContext, ScenarioResult } from "./scenario.js";

const RUNNERS: Record<Scenario, (ctx: ScenarioContext) => Promise<ScenarioResult>> = {
  kill: runKillScenario,
  "pg-restart": runPgRestartScenario,
  "bad-input": runBadInputScenario,
  soak: runSoakScenario,
  workers: runWorkersScenario,
};

/**
 * `npm run chaos`: runs the selected fault scenarios one after another against real sagad
 * processes, prints the JSON report on stdout and a summary on stderr, and exits 0 only if every
 * check of every scenario held (1 otherwise, 2 for bad flags). Whatever happens, the replicas,
 * databases and servers it started are gone when it exits.
 */
async function main(): Promise<void> {
  if (process.argv.includes("--help")) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let options: ChaosOptions;
  try {
    options = parseChaosFlags(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const startedAt = new Date();
  const log = (msg: string) => process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
  const cleanup = new Cleanup(log);
  cleanup.onSignals();
  const runId = `c${startedAt.getTime().toString(36)}`;
  log(`size ${options.size}, seed ${options.seed}, scenarios ${[...options.only].join(", ")}`);

  const results: ScenarioResult[] = [];
  const crashed: ChaosReport["crashed"] = [];
  try {
    for (const scenario of Object.keys(RUNNERS) as Scenario[]) {
      if (!options.only.has(scenario)) continue;
      const scope = cleanup.child(scenario);
      // Each scenario draws from its own stream, so selecting scenarios does not change the others.
      const random = new Random(options.seed + hash(scenario));
      try {
        results.push(await RUNNERS[scenario]({ options, cleanup: scope, random, log, runId }));
      } catch (err) {
        log(`${scenario} crashed: ${(err as Error).stack ?? String(err)}`);
        crashed.push({ scenario, error: (err as Error).message });
      } finally {
        await scope.close();
      }
    }
  } finally {
    await cleanup.runAll();
  }
  const report: ChaosReport = {
    passed: crashed.length === 0 && results.every((r) => r.passed),
    startedAt: startedAt.toISOString(),
    seconds: Math.round((Date.now() - startedAt.getTime()) / 100) / 10,
    options: { ...options, only: [...options.only] },
    summary: summarize(results),
    scenarios: results,
    crashed,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  printSummary(report);
  // Client connections (HTTP/2 sessions to replicas that are gone) must not keep the process up.
  process.exit(report.passed ? 0 : 1);
}

function hash(text: string): number {
  let h = 0;
  for (const ch of text) h = (Math.imul(h, 31) + ch.charCodeAt(0)) >>> 0;
  return h;
}

await main();
