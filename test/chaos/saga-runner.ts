import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { SagaStatus, SkipStepResponseSchema, type SagaEvent } from "../../src/client/index.js";
import type { ResilientClient } from "./resilient-client.js";
import type { SagaPlan } from "./workload.js";

/** What the harness knows about one planned saga after driving it. */
export interface SagaRun {
  plan: SagaPlan;
  /** Empty if CreateSaga never succeeded. */
  id: string;
  createdSequence: bigint;
  /** Every event the live watcher saw, in order. */
  live: SagaEvent[];
  /** The status it was last seen resting in; null if it never rested within the budget (stuck). */
  rested: SagaStatus | null;
  /** Why driving it stopped early (create or operator call failed for good). */
  error: string | null;
}

/**
 * Drives one saga the way a client and an operator would: CreateSaga with its request id (retried
 * across replicas until acknowledged), WatchSaga from the returned sequence until it rests, and,
 * for a plan that says so, SkipStep on the failed step (a retried SkipStep that had already
 * applied answers FAILED_PRECONDITION naming SKIPPED, which counts as done) and watch on.
 */
export async function runSaga(client: ResilientClient, plan: SagaPlan, budgetMs: number): Promise<SagaRun> {
  const giveUpAt = Date.now() + budgetMs;
  const run: SagaRun = { plan, id: "", createdSequence: 0n, live: [], rested: null, error: null };
  try {
    const { saga } = await client.unary(`CreateSaga ${plan.requestId}`, (c, o) => c.createSaga(plan.request, o), budgetMs);
    run.id = saga!.id;
    run.createdSequence = saga!.sequence;
    let cursor = saga!.sequence;
    let skipped = false;
    for (;;) {
      const left = giveUpAt - Date.now();
      if (left <= 0) return run;
      const watched = await client.watchUntilResting(run.id, cursor, (e) => run.live.push(e), left);
      cursor = watched.cursor;
      run.rested = watched.status;
      if (watched.status !== SagaStatus.FAILED || plan.skipOnFailure === null || skipped) return run;
      const step = plan.skipOnFailure;
      await client.unary(
        `SkipStep ${run.id} ${step}`,
        (c, o) => c.skipStep({ id: run.id, step, output: { skippedBy: "chaos" } }, o),
        Math.max(1, giveUpAt - Date.now()),
        (err) => (err.code === Code.FailedPrecondition && err.rawMessage.includes("is SKIPPED") ? create(SkipStepResponseSchema) : undefined),
      );
      skipped = true;
      run.rested = null;
    }
  } catch (err) {
    run.error = (err as Error).message;
    return run;
  }
}
