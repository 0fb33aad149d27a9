import { createAdminToken, openBenchDatabase } from "../bench/environment.js";
import { countBy, faultRunResult, runChecks, runPaced } from "./fault-run.js";
import { ReplicaSet } from "./replica-set.js";
import { ResilientClient, sleep } from "./resilient-client.js";
import { check, elapsedS, type Fault, type ScenarioContext, type ScenarioResult } from "./scenario.js";
import { startTarget } from "./target.js";
import { verifyRuns } from "./verify.js";
import { planSagas } from "./workload.js";

/** Time between kills; sagas are started over kills × this so every kill meets work in flight. */
const PERIOD_MS = 8_000;

/**
 * kill -9 a random one of two replicas at a random moment while sagas run, restart it on the same
 * address (alternately with the same replica id and a new one), repeat; then hold every saga to
 * the accounting checks. The replicas' lease TTL bounds how long the killed one's sagas wait.
 */
export async function runKillScenario(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { options, cleanup, random, log } = ctx;
  const scenarioStarted = Date.now();
  const db = await openBenchDatabase("sagad_chaos");
  cleanup.add("kill scenario database", () => db.close());
  const target = await startTarget(random);
  cleanup.add("kill scenario target", () => target.close());
  const env = { SAGAD_LEASE_TTL_MS: String(options.leaseTtlMs), SAGAD_POLL_INTERVAL_MS: "500" };
  const replicas = await ReplicaSet.start(db.url, 2, "chaos", env, () => createAdminToken(db.url, `chaos-kill-${ctx.runId}`), cleanup);
  const client = new ResilientClient({ clients: () => replicas.allClients(), faultActive: () => replicas.anyDown() });

  const { sagas, kills } = options.kill;
  const plans = planSagas(sagas, `${ctx.runId}-kill`, "kill", target, random);
  const spanMs = Math.max(10_000, kills * PERIOD_MS);
  // Sagas start over the same span as the kills; `started` is when both begin.
  const started = Date.now();
  const deadline = Date.now() + spanMs + kills * 10_000 + 3 * options.leaseTtlMs + 60_000;
  log(`kill: ${sagas} sagas over ${spanMs / 1000}s on 2 replicas, ${kills} kill -9 (db: ${db.kind})`);

  const faults: Fault[] = [];
  const fault = (kind: string, detail: string) => {
    faults.push({ atS: elapsedS(started), kind, detail, injected: kind === "kill -9" });
    log(`kill: ${kind} ${detail}`);
  };
  const chaos = (async () => {
    for (let k = 0; k < kills; k++) {
      // One kill per period, at a random moment in its middle (sagas have piled up; the restart
      // fits in the rest).
      const periodStart = started + k * PERIOD_MS;
      await sleep(Math.max(0, periodStart + random.int(PERIOD_MS / 4, (PERIOD_MS * 5) / 8) - Date.now()));
      const slot = random.int(0, replicas.size - 1);
      const killedAt = Date.now();
      const killed = await replicas.kill(slot);
      fault("kill -9", `${killed} (${target.inFlight(killed, killedAt)} of its calls in flight)`);
      await sleep(random.int(200, 2_000));
      const sameId = k % 2 === 0;
      const restarted = await replicas.restart(slot, sameId);
      fault("restart", `${restarted} (${sameId ? "same replica id" : "new replica id"})`);
    }
  })();
  const runs = await runPaced(client, plans, spanMs, deadline);
  await chaos;
  log(`kill: all sagas rested or timed out (${elapsedS(started)}s); verifying histories`);

  const verdict = await verifyRuns(client, runs, target, db.url, 60_000);
  const checks = [
    ...runChecks(verdict, client.stats, replicas.unexpectedExits),
    check("kills injected", faults.filter((f) => f.injected).length === kills, faults.filter((f) => f.injected).length),
  ];
  await replicas.stopAll();
  return faultRunResult("kill", elapsedS(scenarioStarted), faults, checks, { plans, target, client, replicas, verdict }, {
    database: db.kind,
    leaseTtlMs: options.leaseTtlMs,
    callsByReplica: countBy(target.calls.map((c) => c.replica)),
  });
}
