import { Code, ConnectError } from "@connectrpc/connect";
import { SagaStatus, StepStatus, type Saga, type SagaEvent } from "../../src/client/index.js";
import { withClient } from "../bench/environment.js";
import { mapConcurrent } from "../helpers/rpc.js";
import { accountSaga, newAccounting, type Accounting, type SagaRecord } from "./accounting.js";
import type { ResilientClient } from "./resilient-client.js";
import type { SagaRun } from "./saga-runner.js";
import type { Target, TargetCall } from "./target.js";

/** The verdict on a run of planned sagas after the faults. */
export interface RunVerdict {
  planned: number;
  /** Plans whose CreateSaga was never acknowledged (or whose driving failed for good). */
  createFailed: number;
  /** Acknowledged sagas GetSaga cannot find. */
  lost: number;
  /** Sagas not resting at the deadline. */
  stuck: number;
  /** Rows in the sagas table beyond the planned ones (a retried create that made a second saga). */
  extraSagas: number;
  /** Calls for saga ids the harness never created, and requests to unknown paths. */
  orphanCalls: number;
  /** Sagas whose state could not be read back (GetSaga failed with another code than NOT_FOUND). */
  unreadable: number;
  accounting: Accounting;
  /** Stuck, lost or failed sagas, described. */
  problems: string[];
}

/**
 * Reads back every saga the run created — GetSaga for its state (NOT_FOUND = lost), WatchSaga
 * from sequence 0 for its whole history — and holds each to the accounting checks with the calls
 * the target recorded for it. Counting the sagas table's rows is its only direct table read.
 */
export async function verifyRuns(
  client: ResilientClient,
  runs: readonly SagaRun[],
  target: Target,
  databaseUrl: string,
  budgetMs: number,
  /** Sees every resting saga's record after the shared checks (a scenario's own checks). */
  inspect?: (record: SagaRecord) => void,
): Promise<RunVerdict> {
  const verdict: RunVerdict = {
    planned: runs.length, createFailed: 0, lost: 0, stuck: 0, extraSagas: 0, orphanCalls: 0, unreadable: 0,
    accounting: newAccounting(), problems: [],
  };
  const problem = (msg: string) => {
    if (verdict.problems.length < 20) verdict.problems.push(msg);
  };
  const callsBySaga = new Map<string, TargetCall[]>();
  for (const call of target.calls) callsBySaga.set(call.sagaId, [...(callsBySaga.get(call.sagaId) ?? []), call]);
  const ids = new Set(runs.map((r) => r.id).filter((id) => id !== ""));
  for (const [sagaId, calls] of callsBySaga) {
    if (!ids.has(sagaId)) {
      verdict.orphanCalls += calls.length;
      problem(`${calls.length} call(s) for saga ${sagaId}, which the harness never created`);
    }
  }
  verdict.orphanCalls += target.strays.length;

  await mapConcurrent([...runs], 16, async (run) => {
    if (run.id === "") {
      verdict.createFailed++;
      problem(`plan ${run.plan.requestId}: ${run.error}`);
      return;
    }
    if (run.error) {
      verdict.createFailed++;
      problem(`saga ${run.id} (${run.plan.kind}): ${run.error}`);
    }
    let saga: Saga;
    try {
      saga = (await client.unary(`GetSaga ${run.id}`, (c, o) => c.getSaga({ id: run.id }, o), budgetMs)).saga!;
    } catch (err) {
      const code = err instanceof Error && err.cause instanceof ConnectError ? err.cause.code : null;
      if (code === Code.NotFound) {
        verdict.lost++;
        problem(`saga ${run.id} (${run.plan.kind}) is lost: GetSaga answers NOT_FOUND`);
      } else {
        verdict.unreadable++;
        problem(`saga ${run.id}: ${(err as Error).message}`);
      }
      return;
    }
    if (run.rested === null) {
      verdict.stuck++;
      problem(`saga ${run.id} (${run.plan.kind}) is stuck in ${SagaStatus[saga.status]} (steps: ${saga.steps.map((s) => `${s.name}=${StepStatus[s.status]}`).join(" ")})`);
      return;
    }
    const history: SagaEvent[] = [];
    const read = await client.watchUntilResting(run.id, 0n, (e) => history.push(e), budgetMs);
    if (read.status === null) {
      problem(`saga ${run.id}: its history did not end in a resting event`);
      verdict.stuck++;
      return;
    }
    // GetSaga may predate the last events if an operator call raced; read the state again.
    if (BigInt(history.length) !== saga.sequence) {
      saga = (await client.unary(`GetSaga ${run.id}`, (c, o) => c.getSaga({ id: run.id }, o), budgetMs)).saga!;
    }
    const record: SagaRecord = {
      saga,
      history,
      calls: callsBySaga.get(run.id) ?? [],
      live: run.live,
      createdSequence: run.createdSequence,
      expected: run.plan.expected,
    };
    accountSaga(verdict.accounting, record);
    inspect?.(record);
  });
  const stored = await withClient(databaseUrl, async (c) => Number((await c.query("SELECT count(*) AS n FROM sagas")).rows[0].n));
  verdict.extraSagas = Math.max(0, stored - ids.size);
  return verdict;
}

