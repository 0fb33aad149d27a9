import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationMs } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import type { RegisterWorkerRequestSchema, WorkerService } from "../gen/saga/v1/worker_pb.js";
import { backoffMs, RECONNECT_BACKOFF, sleep } from "./backoff.js";
import { classifyCallError, describeError } from "./call-errors.js";
import type { WorkerLogger } from "./worker-options.js";

/** What RegisterWorker answered that the loops need. */
export interface SessionInfo {
  id: string;
  heartbeatIntervalMs: number;
}

/** Used when a server leaves heartbeat_interval unset; the proto documents no default, sagad sends one. */
const DEFAULT_HEARTBEAT_MS = 5_000;

const CALL_TIMEOUT_MS = 10_000;

/**
 * The worker's session with the server. There is at most one registration in flight: every call
 * that learns the session is gone (NOT_FOUND) calls `lost`, and the next `current()` registers
 * again with the same instance_id, which resumes the session and its tasks on the server.
 */
export class Session {
  private info: SessionInfo | undefined;
  /** The id of the last registration, kept after `lost` so a re-registration can tell it changed. */
  private lastId: string | undefined;
  private registering: Promise<SessionInfo> | undefined;
  private readonly listeners = new Set<(id: string) => void>();

  constructor(
    private readonly client: Client<typeof WorkerService>,
    private readonly request: MessageInitShape<typeof RegisterWorkerRequestSchema>,
    private readonly signal: AbortSignal,
    private readonly logger: WorkerLogger,
  ) {}

  /** The heartbeat interval of the last registration (the default before the first). */
  get heartbeatIntervalMs(): number {
    return this.info?.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_MS;
  }

  /**
   * The live session, registering first when there is none. Transient failures are retried with
   * backoff; it rejects only when the worker closes or the server refuses the registration (bad
   * token, invalid request), which no retry would fix.
   */
  current(): Promise<SessionInfo> {
    if (this.info) return Promise.resolve(this.info);
    return (this.registering ??= this.register().finally(() => (this.registering = undefined)));
  }

  /** Marks session `id` as gone, unless a newer one already replaced it. */
  lost(id: string): void {
    if (this.info?.id !== id) return;
    this.info = undefined;
    this.logger.warn("session not found on the server; registering again", { session_id: id });
  }

  /** Calls `listener` with the new id whenever a registration yields a different session id. */
  onChange(listener: (id: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Runs a call that names the session: after NOT_FOUND it registers again and repeats the call
   * with the new id, and transient failures are repeated with backoff, both for up to `retryForMs`.
   */
  async call<T>(fn: (sessionId: string) => Promise<T>, retryForMs: number): Promise<T> {
    const started = Date.now();
    for (let failures = 0; ; ) {
      const { id } = await this.current();
      try {
        return await fn(id);
      } catch (err) {
        const failure = classifyCallError(err, true);
        if (this.signal.aborted || Date.now() - started > retryForMs) throw err;
        if (failure === "session-lost") this.lost(id);
        else if (failure !== "transient") throw err;
        failures++;
        await sleep(backoffMs(RECONNECT_BACKOFF, failures), this.signal);
      }
    }
  }

  private async register(): Promise<SessionInfo> {
    for (let failures = 0; ; ) {
      try {
        this.signal.throwIfAborted();
        const res = await this.client.registerWorker(this.request, { signal: this.signal, timeoutMs: CALL_TIMEOUT_MS });
        const interval = res.heartbeatInterval ? durationMs(res.heartbeatInterval) : 0;
        const info = { id: res.sessionId, heartbeatIntervalMs: interval > 0 ? interval : DEFAULT_HEARTBEAT_MS };
        const changed = this.lastId !== undefined && this.lastId !== info.id;
        this.info = info;
        this.lastId = info.id;
        this.logger.info("registered", { session_id: info.id, replica_id: res.replicaId });
        if (changed) for (const listener of this.listeners) listener(info.id);
        return info;
      } catch (err) {
        if (this.signal.aborted || classifyCallError(err, false) !== "transient") throw err;
        failures++;
        this.logger.warn("register failed, retrying", { error: describeError(err), failures });
        await sleep(backoffMs(RECONNECT_BACKOFF, failures), this.signal);
      }
    }
  }
}
