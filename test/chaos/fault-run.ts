import { FAILURE_COUNTERS } from "./accounting.js";
import type { CallStats, ResilientClient } from "./resilient-client.js";
import { sleep } from "./resilient-client.js";
import { runSaga, type SagaRun } from "./saga-runner.js";
import { check, zero, type Check } from "./scenario.js";
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
