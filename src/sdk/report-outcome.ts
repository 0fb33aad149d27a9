import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { durationFromMs, ValueSchema } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import type { WorkerService } from "../gen/saga/v1/worker_pb.js";
import { backoffMs, sleep, type Backoff } from "./backoff.js";
import { classifyCallError, describeError } from "./call-errors.js";
import type { TaskOutcome } from "./task-outcome.js";
import type { WorkerLogger } from "./worker-options.js";

/** Result calls back off faster than reconnects: the lease is running while they wait. */
const RESULT_BACKOFF: Backoff = { initialMs: 100, maxMs: 5_000 };

/**
 * A result still unsent after this long is given up: by then the session has most likely expired
 * (its ttl is 3 heartbeat intervals) and the task was offered again, so the server would refuse it.
 */
const RESULT_RETRY_MS = 5 * 60_000;

/** Per call, so a connection that went quiet without closing does not hold a result forever. */
const CALL_TIMEOUT_MS = 10_000;

/**
 * Sends the outcome of one task, retrying transient failures with backoff until the call succeeds,
 * `RESULT_RETRY_MS` passes or `signal` fires (the worker closed). Never throws: a refused result
 * (STALE_ATTEMPT, INVALID_ARGUMENT) is logged and dropped, since the server keeps the step's
 * state either way and repeating the call cannot change its answer.
 */
export async function reportOutcome(
  client: Client<typeof WorkerService>,
  token: string,
  outcome: TaskOutcome,
  options: { signal: AbortSignal; logger: WorkerLogger; fields: Record<string, unknown> },
): Promise<void> {
  if (outcome.kind === "drop") return;
  const { signal, logger, fields } = options;
  const started = Date.now();
  for (let failures = 0; ; ) {
    try {
      await send(client, token, outcome, { signal, timeoutMs: CALL_TIMEOUT_MS });
      return;
    } catch (err) {
      if (signal.aborted) return logger.warn("result not sent: worker closed", { ...fields, result: outcome.kind });
      const failure = classifyCallError(err, false);
      if (failure === "stale") {
        return logger.warn("result refused: the attempt was superseded", { ...fields, error: describeError(err) });
      }
      if (failure !== "transient" || Date.now() - started > RESULT_RETRY_MS) {
        return logger.error("result not sent", { ...fields, result: outcome.kind, error: describeError(err) });
      }
      failures++;
      logger.warn("result call failed, retrying", { ...fields, error: describeError(err), failures });
      await sleep(backoffMs(RESULT_BACKOFF, failures), signal);
    }
  }
}

async function send(
  client: Client<typeof WorkerService>,
  token: string,
  outcome: Exclude<TaskOutcome, { kind: "drop" }>,
  callOptions: { signal: AbortSignal; timeoutMs: number },
): Promise<void> {
  switch (outcome.kind) {
    case "complete":
      await client.completeTask({ token, output: fromJson(ValueSchema, outcome.output as JsonValue) }, callOptions);
      return;
    case "fail":
      await client.failTask(
        {
          token,
          errorKind: outcome.errorKind,
          message: outcome.message,
          retryable: outcome.retryable,
          ...(outcome.retryAfterMs === undefined ? {} : { retryAfter: durationFromMs(outcome.retryAfterMs) }),
        },
        callOptions,
      );
      return;
    case "cancelled":
      await client.reportCancelled({ token, message: outcome.message }, callOptions);
      return;
  }
}
