import { createAdminToken } from "../bench/environment.js";
import { startRestartablePostgres } from "../helpers/restartable-postgres.js";
import { faultRunResult, runChecks, runPaced } from "./fault-run.js";
import { ReplicaSet } from "./replica-set.js";
import { ResilientClient, sleep } from "./resilient-client.js";
import { check, elapsedS, type Fault, type ScenarioContext, type ScenarioResult } from "./scenario.js";
import { startTarget } from "./target.js";
import { verifyRuns } from "./verify.js";
import { planSagas } from "./workload.js";

const SPAN_MS = 12_000;

/**
 * Two replicas on a PostgreSQL the harness owns (embedded, in a temp dir); in the middle of a run
 * of sagas it is fast-shut-down (every session terminated), kept down, and started again on the
 * same port. The replicas must reconnect and finish every saga; every client call has a deadline,
 * calls during the outage may fail with UNAVAILABLE (retried), and none may hit its deadline once
 * Postgres is back.
 */
export async function runPgRestartScenario(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { options, cleanup, random, log } = ctx;
  const started = Date.now();
  const postgres = await startRestartablePostgres();
  cleanup.add("private postgres", () => postgres.close());
  const target = await startTarget(random);
  cleanup.add("pg-restart target", () => target.close());
  const env = { SAGAD_LEASE_TTL_MS: String(options.leaseTtlMs), SAGAD_POLL_INTERVAL_MS: "500" };
  const replicas = await ReplicaSet.start(
    postgres.databaseUrl, 2, "chaos-pg", env, () => createAdminToken(postgres.databaseUrl, `chaos-pg-${ctx.runId}`), cleanup,
  );
  let down = false;
  const client = new ResilientClient({ clients: () => replicas.allClients(), faultActive: () => down });

  const { sagas, outageMs } = options.pgRestart;
  const plans = planSagas(sagas, `${ctx.runId}-pg`, "pg-restart", target, random);
  const deadline = Date.now() + SPAN_MS + outageMs + 3 * options.leaseTtlMs + 60_000;
  log(`pg-restart: ${sagas} sagas over ${SPAN_MS / 1000}s on 2 replicas, Postgres down for ${outageMs} ms`);

  const faults: Fault[] = [];
  const outage = (async () => {
    await sleep(random.int(3_000, 5_000));
    down = true;
    const callsBefore = target.calls.length;
    await postgres.stop();
    faults.push({ atS: elapsedS(started), kind: "postgres stop", detail: `fast shutdown (after ${callsBefore} target calls)`, injected: true });
    log(`pg-restart: postgres stopped`);
    await sleep(outageMs);
    await postgres.start();
    down = false;
    faults.push({ atS: elapsedS(started), kind: "postgres start", detail: `same port ${postgres.port}`, injected: false });
    log(`pg-restart: postgres is back`);
  })();
  const runs = await runPaced(client, plans, SPAN_MS, deadline);
  await outage;
  log(`pg-restart: all sagas rested or timed out (${elapsedS(started)}s); verifying`);

  // Each replica, asked directly, answers again: its pool reconnected.
  const answering: string[] = [];
  for (const [i, c] of replicas.allClients().entries()) {
    try {
      await c.listSagas({ pageSize: 1 }, { timeoutMs: 10_000 });
      answering.push(replicas.replicaId(i));
    } catch (err) {
      log(`pg-restart: replica ${replicas.replicaId(i)} does not answer: ${(err as Error).message}`);
    }
  }
  const verdict = await verifyRuns(client, runs, target, postgres.databaseUrl, 60_000);
  const checks = [
    ...runChecks(verdict, client.stats, replicas.unexpectedExits),
    check("replicas answering after the restart", answering.length === replicas.size, `${answering.length}/${replicas.size}`),
    check("postgres restarted", faults.length === 2, faults.length),
  ];
  await replicas.stopAll();
  return faultRunResult("pg-restart", elapsedS(started), faults, checks, { plans, target, client, replicas, verdict }, { outageMs });
}
