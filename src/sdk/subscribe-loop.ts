import type { Client } from "@connectrpc/connect";
import type { SubscribeResponse, WorkerService } from "../gen/saga/v1/worker_pb.js";
import { backoffMs, RECONNECT_BACKOFF, sleep } from "./backoff.js";
import { classifyCallError, describeError } from "./call-errors.js";
import type { Session } from "./session.js";
import type { TaskDispatcher } from "./task-dispatcher.js";
import type { WorkerLogger } from "./worker-options.js";

export interface SubscribeDeps {
  client: Client<typeof WorkerService>;
  session: Session;
  dispatcher: TaskDispatcher;
  logger: WorkerLogger;
  /** A stream that delivers nothing (not even a keepalive) this long is taken for dead. */
  idleTimeoutMs: number;
  onDraining(): void;
  /** Ends the loop when the worker closes. */
  signal: AbortSignal;
}

/** Why the loop itself ended a stream: not a failure, so no backoff before the next one. */
class StreamReplaced extends Error {}
/** The stream went quiet past the idle timeout: a failure (the connection is probably half dead). */
class StreamIdle extends Error {}

/**
 * Holds one Subscribe stream open for as long as the worker runs, and opens it again: at once
 * when the server asks (Reconnect) or the session id changed, with exponential backoff and jitter
 * after errors, idle streams and streams that ended before delivering anything. A NOT_FOUND
 * answer means the session expired: it registers again (same instance_id) first.
 */
export async function runSubscribeLoop(deps: SubscribeDeps): Promise<void> {
  const { session, logger, signal } = deps;
  for (let failures = 0; !signal.aborted; ) {
    const stream = new AbortController();
    const closeStream = (): void => stream.abort(new StreamReplaced("worker closed"));
    signal.addEventListener("abort", closeStream, { once: true });
    let sessionId: string | undefined;
    let unwatch: (() => void) | undefined;
    try {
      const current = (sessionId = (await session.current()).id);
      unwatch = session.onChange((id) => {
        if (id !== current) stream.abort(new StreamReplaced("the session changed"));
      });
      const delivered = await readStream(deps, sessionId, stream);
      failures = delivered ? 0 : failures + 1;
    } catch (err) {
      if (signal.aborted) break;
      const reason: unknown = stream.signal.reason;
      if (reason instanceof StreamReplaced) {
        failures = 0;
      } else {
        failures++;
        if (reason instanceof StreamIdle) logger.warn("subscribe stream idle; reconnecting", { failures });
        else if (sessionId !== undefined && classifyCallError(err, true) === "session-lost") session.lost(sessionId);
        else logger.warn("subscribe stream failed; reconnecting", { error: describeError(err), failures });
      }
    } finally {
      unwatch?.();
      signal.removeEventListener("abort", closeStream);
    }
    if (failures > 0) await sleep(backoffMs(RECONNECT_BACKOFF, failures), signal);
  }
}

/**
 * Reads one stream until it ends, the server asks to reconnect or `stream` is aborted (then it
 * rejects). Resolves with whether anything arrived, so a stream the server ends at once backs off.
 */
async function readStream(deps: SubscribeDeps, sessionId: string, stream: AbortController): Promise<boolean> {
  let idleTimer: NodeJS.Timeout | undefined;
  const resetIdle = (): void => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => stream.abort(new StreamIdle("no message")), deps.idleTimeoutMs);
  };
  let delivered = false;
  resetIdle();
  try {
    for await (const res of deps.client.subscribe({ sessionId }, { signal: stream.signal })) {
      delivered = true;
      resetIdle();
      if (handle(deps, res) === "reconnect") break;
    }
    // Leaving the loop early does not reset the HTTP/2 stream by itself; without this the server
    // would keep pushing to (and counting) a stream nobody reads.
    stream.abort(new StreamReplaced("stream finished"));
    return delivered;
  } finally {
    clearTimeout(idleTimer);
  }
}

function handle(deps: SubscribeDeps, res: SubscribeResponse): "reconnect" | undefined {
  const message = res.message;
  switch (message.case) {
    case "task":
      deps.dispatcher.offer(message.value);
      return;
    case "cancel":
      deps.dispatcher.cancel(message.value.token, message.value.reason);
      return;
    case "reconnect":
      deps.logger.info("the server asked to reconnect", { reason: message.value.reason });
      return "reconnect";
    case "drain":
      deps.onDraining();
      return;
    case "keepalive":
    case undefined:
      return;
  }
}
