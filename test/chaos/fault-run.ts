import { FAILURE_COUNTERS } from "./accounting.js";
import type { CallStats, ResilientClient } from "./resilient-client.js";
import { sleep } from "./resilient-client.js";
import { runSaga, type SagaRun } from "./saga-runner.js";
import type { ReplicaSet } from "./replica-set.js";
import { check, zero, type Check, type Fault, type ScenarioResult } from "./scenario.js";
import type { Target } from "./target.js";
import type { RunVerdict } from "./verify.js";
import type { SagaPlan } from "./workload.js";

/**
 * Starts the planned sagas evenly over `spanMs` (so faults injected during the span meet work in
 * flight), each driven to rest by its own task, and waits for all of them or `deadline`.
 */
export async function runPaced(client: ResilientClient, plans: readonly SagaPlan[], spanMs: number, deadline: number): Promise<SagaRun[]> {
  const started = Date.now();
  return Promise.all(
    plans.map(async (plan, i) => {
      await sleep(Math.max(0, started + (i * spanMs) / plans.length - Date.now()));
      return runSaga(client, plan, Math.max(1000, deadline - Date.now()));
    }),
  );
}

/** The checks every fault scenario makes of its sagas and its clients. */
export function runChecks(verdict: RunVerdict, stats: CallStats, unexpectedExits: readonly string[]): Check[] {
  const errors = Object.entries(stats.errors).map(([code, n]) => `${code}×${n}`);
  return [
    zero("lost (created, then not found)", verdict.lost),
    zero("stuck (not resting by the deadline)", verdict.stuck),
    zero("create or operator call failed for good", verdict.createFailed),
    zero("extra sagas (a retried create stored twice)", verdict.extraSagas),
    zero("orphan calls (for no created saga)", verdict.orphanCalls),
    zero("sagas that could not be read back", verdict.unreadable),
    ...FAILURE_COUNTERS.map((c) => zero(c, verdict.accounting.failures[c])),
    check("non-retryable RPC errors", errors.length === 0, errors.join(", ") || 0),
    zero("RPC deadline hits outside a fault", stats.deadlineHitsOutsideFault),
    zero("watch stalls outside a fault", stats.watchStallsOutsideFault),
    zero("watch sequence breaks", stats.watchSequenceBreaks),
    zero("calls given up", stats.gaveUp),
    zero("replicas that exited by themselves", unexpectedExits.length),
  ];
}

/** What a fault scenario ran, for the part of its report every fault scenario shares. */
export interface FaultRun {
  plans: readonly SagaPlan[];
  target: Target;
  client: ResilientClient;
  replicas: ReplicaSet;
  verdict: RunVerdict;
}

/**
 * A fault scenario's result: the headline counters from its verdict, its checks, and the details
 * every fault scenario reports, after the scenario's own (`details`).
 */
export function faultRunResult(
  scenario: ScenarioResult["scenario"],
  seconds: number,
  faults: Fault[],
  checks: Check[],
  run: FaultRun,
  details: Record<string, unknown>,
): ScenarioResult {
  const { verdict } = run;
  return {
    scenario,
    passed: checks.every((c) => c.held),
    seconds,
    faults,
    sagas: verdict.planned,
    lost: verdict.lost,
    stuck: verdict.stuck,
    duplicates: verdict.accounting.failures.duplicates,
    checks,
    details: {
      ...details,
      kinds: countBy(run.plans.map((p) => p.kind)),
      targetCalls: run.target.calls.length,
      recoveries: verdict.accounting.recoveries,
      recoveredReruns: verdict.accounting.recoveredReruns,
      deferrals: verdict.accounting.deferrals,
      failureKinds: verdict.accounting.failureKinds,
      client: run.client.stats,
      problems: [...run.replicas.unexpectedExits, ...verdict.problems, ...verdict.accounting.samples],
      replicaLogTail: run.replicas.loggedProblems(),
    },
  };
}

export function countBy(items: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[item] = (counts[item] ?? 0) + 1;
  return counts;
}
