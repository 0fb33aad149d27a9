import { Backoff, createSagaClient, SagaStatus, type SagaClient } from "../../src/client/index.js";
import { createAdminToken, openBenchDatabase, startReplicas, withClient } from "../bench/environment.js";
import { waitForStatus } from "../helpers/wait.js";
import { createSagaCases } from "./corpus-create.js";
import { otherRpcCases } from "./corpus-rpcs.js";
import { sendRaw, wireCases } from "./corpus-wire.js";
import { judge, OK, outcomeOf, type Fixtures, type Outcome } from "./corpus.js";
import { check, elapsedS, zero, type ScenarioContext, type ScenarioResult } from "./scenario.js";

interface CaseResult {
  name: string;
  rpc: string;
  protocol: string;
  code: string;
  ms: number;
  /** Null when the answer was the expected one. */
  wrong: string | null;
}

const PROTOCOLS = ["grpc", "connect"] as const;

/**
 * Sends the malformed-request corpus (corpus-create.ts, corpus-rpcs.ts over gRPC and Connect;
 * corpus-wire.ts as raw bytes) to one real replica. Each request must get its expected code (and
 * name its field); afterwards the sagas and saga_events tables hold exactly what they held before,
 * the fixture sagas are unchanged, and the replica is still up.
 */
export async function runBadInputScenario(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { cleanup, log } = ctx;
  const started = Date.now();
  const db = await openBenchDatabase("sagad_chaos");
  cleanup.add("bad-input database", () => db.close());
  // The token first, so the replica loads it as it starts instead of racing its NOTIFY.
  const token = await createAdminToken(db.url, `chaos-input-${ctx.runId}`);
  const [replica] = await startReplicas(db.url, 1, {}, "chaos-input");
  cleanup.add("bad-input replica", () => replica!.stop());
  const headers = { authorization: `Bearer ${token}` };
  const clients: Record<(typeof PROTOCOLS)[number], SagaClient> = {
    grpc: createSagaClient(replica!.url, { protocol: "grpc", headers }),
    connect: createSagaClient(replica!.url, { protocol: "connect", headers }),
  };
  const fixtures = await createFixtures(clients.grpc);
  const counts = () =>
    withClient(db.url, async (c) => {
      const { rows } = await c.query("SELECT (SELECT count(*) FROM sagas) AS sagas, (SELECT count(*) FROM saga_events) AS events");
      return { sagas: Number(rows[0].sagas), events: Number(rows[0].events) };
    });
  const before = await counts();

  const results: CaseResult[] = [];
  const record = (name: string, rpc: string, protocol: string, startedAt: number, outcome: Outcome, wrong: string | null) => {
    results.push({ name, rpc, protocol, code: outcome.code, ms: Date.now() - startedAt, wrong });
    if (wrong) log(`bad-input: WRONG ${rpc} "${name}" [${protocol}]: ${wrong}`);
  };
  const typed = [...createSagaCases(), ...otherRpcCases()];
  log(`bad-input: ${typed.length} requests over ${PROTOCOLS.join(" and ")}, ${wireCases().length} raw ones`);
  for (const c of typed) {
    for (const protocol of PROTOCOLS) {
      const t0 = Date.now();
      let outcome: Outcome;
      try {
        await c.call(clients[protocol], fixtures, { timeoutMs: 60_000 });
        outcome = OK;
      } catch (err) {
        outcome = outcomeOf(err);
      }
      record(c.name, c.rpc, protocol, t0, outcome, judge(c, outcome));
    }
  }
  for (const c of wireCases()) {
    const t0 = Date.now();
    let outcome: Outcome;
    try {
      outcome = await sendRaw(replica!.url, token, c);
    } catch (err) {
      outcome = { code: "transport error", message: (err as Error).message, fields: [] };
    }
    record(c.name, c.rpc, `raw ${c.contentType}`, t0, outcome, judge(c, outcome));
  }

  const after = await counts();
  const unchanged = async (id: string, sequence: bigint) => (await clients.grpc.getSaga({ id }, { timeoutMs: 10_000 })).saga!.sequence === sequence;
  const fixturesUnchanged = (await unchanged(fixtures.completed.id, fixtures.completed.sequence)) && (await unchanged(fixtures.failed.id, fixtures.failed.sequence));
  const wrong = results.filter((r) => r.wrong !== null);
  const checks = [
    check("malformed requests sent (at least 50)", results.length >= 50, results.length),
    zero("answered with the wrong code or without naming the field", wrong.length),
    check("sagas stored by them", after.sagas === before.sagas, after.sagas - before.sagas),
    check("events appended by them", after.events === before.events, after.events - before.events),
    check("fixture sagas unchanged", fixturesUnchanged, fixturesUnchanged ? "yes" : "no"),
    check("replica still up", replica!.exitStatus() === null, replica!.exitStatus() === null ? "yes" : JSON.stringify(replica!.exitStatus())),
  ];
  await replica!.stop();
  return {
    scenario: "bad-input",
    passed: checks.every((c) => c.held),
    seconds: elapsedS(started),
    faults: [],
    sagas: 0,
    lost: 0,
    stuck: 0,
    duplicates: 0,
    checks,
    details: {
      requests: results.length,
      byCode: results.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.code]: (acc[r.code] ?? 0) + 1 }), {}),
      slowest: [...results].sort((a, b) => b.ms - a.ms).slice(0, 5).map((r) => `${r.name} [${r.protocol}] ${r.ms} ms`),
      problems: wrong.map((r) => `${r.rpc} "${r.name}" [${r.protocol}]: ${r.wrong}`),
      results,
    },
  };
}

/** A COMPLETED saga and a FAILED one (its step `a` calls a closed port once, `b` waits on it). */
async function createFixtures(client: SagaClient): Promise<Fixtures> {
  const { saga: done } = await client.createSaga({ name: "fixture-completed", steps: [{ name: "a", action: "noop" }] });
  const { saga: failing } = await client.createSaga({
    name: "fixture-failed",
    steps: [
      { name: "a", action: "http", config: { url: "http://127.0.0.1:1/closed" }, retryPolicy: { maxAttempts: 1, backoff: Backoff.FIXED } },
      { name: "b", action: "noop", dependsOn: ["a"] },
    ],
  });
  const completed = await waitForStatus(client, done!.id, SagaStatus.COMPLETED);
  const failed = await waitForStatus(client, failing!.id, SagaStatus.FAILED);
  return { completed: { id: completed.id, sequence: completed.sequence }, failed: { id: failed.id, sequence: failed.sequence } };
}
