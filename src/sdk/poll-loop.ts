import { durationFromMs } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import type { WorkerService } from "../gen/saga/v1/worker_pb.js";
import { backoffMs, RECONNECT_BACKOFF, sleep } from "./backoff.js";
import { classifyCallError, describeError } from "./call-errors.js";
import type { Session } from "./session.js";
import type { TaskDispatcher } from "./task-dispatcher.js";
import type { WorkerLogger } from "./worker-options.js";

/** PollTasks answers at most this many tasks (worker.proto). */
const MAX_TASKS_PER_POLL = 100;

/** Room on top of the poll's own wait before the call is given up as lost. */
const POLL_CALL_SLACK_MS = 15_000;

export interface PollDeps {
  client: Client<typeof WorkerService>;
  session: Session;
  dispatcher: TaskDispatcher;
  logger: WorkerLogger;
  waitMs: number;
  /** Ends the loop when the worker stops taking tasks (drain) or closes. */
  signal: AbortSignal;
}

/**
 * Long-polls for as many tasks as there are free slots, one poll at a time, and hands them to the
 * dispatcher (which acks and runs them as for Subscribe). It waits for a free slot before asking,
 * so it never takes tasks it cannot start; errors back off as reconnects do.
 */
export async function runPollLoop(deps: PollDeps): Promise<void> {
  const { client, session, dispatcher, logger, signal } = deps;
  for (let failures = 0; !signal.aborted && !dispatcher.draining; ) {
    await dispatcher.whenFree();
    if (signal.aborted || dispatcher.draining) break;
    let sessionId: string | undefined;
    try {
      sessionId = (await session.current()).id;
      const maxTasks = Math.min(MAX_TASKS_PER_POLL, dispatcher.freeSlots);
      const res = await client.pollTasks(
        { sessionId, maxTasks, wait: durationFromMs(deps.waitMs) },
        { signal, timeoutMs: deps.waitMs + POLL_CALL_SLACK_MS },
      );
      failures = 0;
      for (const task of res.tasks) dispatcher.offer(task);
    } catch (err) {
      if (signal.aborted) break;
      failures++;
      if (sessionId !== undefined && classifyCallError(err, true) === "session-lost") session.lost(sessionId);
      else logger.warn("poll failed; retrying", { error: describeError(err), failures });
      await sleep(backoffMs(RECONNECT_BACKOFF, failures), signal);
    }
  }
}
