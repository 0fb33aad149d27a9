import { create, toJson } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs, ValueSchema, type Duration } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { Clock } from "../domain/clock.js";
import { DomainError } from "../domain/errors.js";
import { nestsDeeperThan } from "../domain/validate-config.js";
import type { Json, JsonObject } from "../domain/types.js";
import type { Engine } from "../engine/engine.js";
import { recordWorkerReport, type ReportOutcome, type WorkerReport } from "../engine/record-result.js";
import {
  DrainRequestedSchema,
  KeepaliveSchema,
  ReconnectSchema,
  SubscribeResponseSchema,
  TaskCancelSchema,
  WorkerActionSchema,
  WorkerSchema,
  WorkerService,
  type SubscribeResponse,
  type Task,
} from "../gen/saga/v1/worker_pb.js";
import type { TaskRef, TaskStore } from "../store/task-store.js";
import type { SessionRow, WorkerSessionStore } from "../store/worker-session-store.js";
import { refKey } from "./local-session.js";
import type { TaskDispatcher } from "./task-dispatcher.js";
import type { TaskTokens } from "./task-token.js";
import { requireSessionId, sessionNotFound, validateRegistration } from "./worker-requests.js";
import type { WorkerObserver } from "./worker-observer.js";
import { sessionTtlMs, type WorkerSettings } from "./worker-settings.js";

export interface WorkerServiceDeps {
  engine: Engine;
  tasks: TaskStore;
  sessions: WorkerSessionStore;
  dispatcher: TaskDispatcher;
  tokens: TaskTokens;
  settings: WorkerSettings;
  clock: Clock;
  logger: Logger;
  replicaId: string;
  /** Outputs are bounded like configs. */
  maxOutputBytes: number;
  maxJsonDepth: number;
  /** Aborted at shutdown: streams end with a reconnect hint so workers move to another replica. */
  shutdownSignal: AbortSignal;
  observer: WorkerObserver;
}

const MAX_POLL_WAIT_MS = 30_000;
const MAX_POLL_TASKS = 100;

const durationMs = (d: Duration | undefined): number => (d ? Number(d.seconds) * 1000 + Math.round(d.nanos / 1e6) : 0);

/**
 * WorkerService: sessions, offers and the worker side of the result path. Every call may reach
 * any replica: sessions and tasks are rows; this replica's dispatcher only holds the streams and
 * polls connected to it.
 */
export function createWorkerService(deps: WorkerServiceDeps): ServiceImpl<typeof WorkerService> {
  const { sessions, tasks, dispatcher, tokens, settings, clock, logger } = deps;
  const ttl = sessionTtlMs(settings);

  const liveSession = async (id: string): Promise<SessionRow> => {
    const row = await sessions.live(requireSessionId(id), clock.now());
    if (!row) throw sessionNotFound(id);
    return row;
  };

  /** Tokens checked one by one: a bad one is named by its index. */
  const refsOf = (list: readonly string[], field: string): TaskRef[] => list.map((t, i) => tokens.verify(t, `${field}[${i}]`));

  const report = async (token: string, body: WorkerReport): Promise<ReportOutcome> => {
    const ref = tokens.verify(token);
    const outcome = await recordWorkerReport(deps.engine, tasks, ref, body);
    if (!outcome.alreadyRecorded) {
      dispatcher.released(outcome.task.sessionId, ref);
      deps.observer.reported(outcome.task.action, outcome.recordedAs ? "failed" : body.kind);
    }
    return outcome;
  };

  /**
   * A stream ended: the session no longer streams here. A drained session with nothing left in
   * flight is over (the worker stopped gracefully), so it ends now instead of at its TTL.
   */
  const endIfDrained = async (id: string): Promise<void> => {
    await sessions.detach(id, deps.replicaId);
    const row = await sessions.live(id, clock.now());
    if (!row?.draining || (await tasks.heldBy([id])).length > 0) return;
    const ended = await sessions.end(id);
    if (ended) logger.info({ session_id: id, instance_id: ended.instanceId, why: "drained" }, "worker session ended");
  };

  return {
    async registerWorker(req) {
      const valid = validateRegistration(req);
      const { session, resumed } = await sessions.register({ ...valid, replicaId: deps.replicaId, now: clock.now(), ttlMs: ttl });
      dispatcher.find(session.id)?.update(session);
      const fields = { session_id: session.id, instance_id: session.instanceId, actions: valid.actions.map((a) => a.name), slots: valid.slots, sdk: valid.sdk };
      if (!resumed) logger.info(fields, "worker session started");
      else logger.debug(fields, "worker session resumed");
      return {
        sessionId: session.id,
        heartbeatInterval: durationFromMs(settings.heartbeatIntervalMs),
        sessionTtl: durationFromMs(ttl),
        ackTimeout: durationFromMs(settings.ackTimeoutMs),
        replicaId: deps.replicaId,
      };
    },

    async *subscribe(req, context) {
      const row = await liveSession(req.sessionId);
      const session = dispatcher.local(row);
      const queue = session.openStream();
      await sessions.attach(session.id, deps.replicaId);
      const keepalive = setInterval(() => queue.push(message({ case: "keepalive", value: create(KeepaliveSchema, { time: timestampFromMs(clock.now()) }) })), settings.keepaliveMs);
      const rebalance = setTimeout(() => {
        queue.push(message({ case: "reconnect", value: create(ReconnectSchema, { reason: "stream age: subscribe again (any replica)" }) }));
        queue.end();
      }, settings.reconnectAfterMs);
      const onShutdown = () => {
        queue.push(message({ case: "reconnect", value: create(ReconnectSchema, { reason: "replica shutting down" }) }));
        queue.end();
      };
      deps.shutdownSignal.addEventListener("abort", onShutdown, { once: true });
      if (session.draining) queue.push(message({ case: "drain", value: create(DrainRequestedSchema) }));
      dispatcher.wake();
      try {
        yield* queue.drain(context.signal);
      } finally {
        clearInterval(keepalive);
        clearTimeout(rebalance);
        deps.shutdownSignal.removeEventListener("abort", onShutdown);
        session.detach(queue);
        dispatcher.forgetIfIdle(session);
        if (!session.attached) await endIfDrained(session.id).catch((err: unknown) => logger.warn({ err, session_id: session.id }, "could not detach a worker session"));
      }
    },

    async pollTasks(req, context) {
      const row = await liveSession(req.sessionId);
      const max = req.maxTasks === 0 ? 1 : req.maxTasks;
      if (max < 0 || max > MAX_POLL_TASKS) {
        throw new DomainError("INVALID_ARGUMENT", `max_tasks: must be between 1 and ${MAX_POLL_TASKS}; got ${req.maxTasks}`, [
          { field: "max_tasks", description: `must be between 1 and ${MAX_POLL_TASKS}` },
        ]);
      }
      const waitMs = Math.min(req.wait ? durationMs(req.wait) : MAX_POLL_WAIT_MS, MAX_POLL_WAIT_MS);
      const session = dispatcher.local(row);
      const got: Task[] = [];
      let done = () => {};
      const finished = new Promise<void>((resolve) => (done = resolve));
      session.openPoll(max, (task) => {
        got.push(task);
        if (got.length >= max) done();
        else setImmediate(done); // more may come in the same claim; then answer
      });
      await sessions.attach(session.id, deps.replicaId);
      dispatcher.wake();
      const timer = setTimeout(done, Math.max(0, waitMs));
      const onAbort = () => done();
      context.signal.addEventListener("abort", onAbort, { once: true });
      try {
        await finished;
      } finally {
        clearTimeout(timer);
        context.signal.removeEventListener("abort", onAbort);
        session.detach(null);
        dispatcher.forgetIfIdle(session);
      }
      return { tasks: got };
    },

    async ackTasks(req) {
      const sessionId = requireSessionId(req.sessionId);
      const refs = refsOf(req.tokens, "tokens");
      const acked = await tasks.ack(sessionId, refs, clock.now());
      const local = dispatcher.find(sessionId);
      if (local && acked.length > 0) local.suspect = false;
      // Only a refusal needs the session looked up: an expired one is NOT_FOUND, so the worker registers again.
      if (acked.length < refs.length || refs.length === 0) await liveSession(sessionId);
      for (const r of acked) deps.observer.acked(r.action);
      const accepted = new Set(acked.map((r) => `${refKey(r)}#${r.delivery}`));
      return { rejectedTokens: req.tokens.filter((_, i) => !accepted.has(`${refKey(refs[i]!)}#${refs[i]!.delivery}`)) };
    },

    async heartbeat(req) {
      const id = requireSessionId(req.sessionId);
      const row = await sessions.heartbeat(id, clock.now(), ttl);
      if (!row) throw sessionNotFound(id);
      const listed: { token: string; ref: TaskRef | null; progress: JsonObject | null }[] = req.tasks.map((t) => {
        try {
          return { token: t.token, ref: tokens.verify(t.token), progress: t.progress ?? null };
        } catch {
          return { token: t.token, ref: null, progress: null };
        }
      });
      const valid = listed.filter((l): l is { token: string; ref: TaskRef; progress: JsonObject | null } => l.ref !== null);
      const rows = await tasks.heartbeatTasks(row.id, valid.map((l) => ({ ...l.ref, progress: l.progress })), clock.now());
      const byKey = new Map(rows.map((r) => [refKey(r), r]));
      const cancel = [];
      const unknownTokens = [];
      for (const l of listed) {
        const r = l.ref ? byKey.get(refKey(l.ref)) : undefined;
        const mine = r !== undefined && r.sessionId === row.id && r.delivery === l.ref!.delivery;
        if (mine && r.state !== "done" && r.state !== "queued") {
          if (r.cancelReason !== null) cancel.push(create(TaskCancelSchema, { token: l.token, reason: r.cancelReason }));
        } else if (mine && r.state === "done" && r.result === "timed_out") {
          cancel.push(create(TaskCancelSchema, { token: l.token, reason: "attempt timed out" }));
        } else {
          unknownTokens.push(l.token);
        }
      }
      return { cancel, unknownTokens, draining: row.draining };
    },

    async completeTask(req) {
      const output = req.output ? (toJson(ValueSchema, req.output) as Json) : undefined;
      const problem = output === undefined ? null : outputProblem(output, deps.maxOutputBytes, deps.maxJsonDepth);
      const body: WorkerReport = problem
        ? { kind: "failed", errorKind: "OUTPUT_INVALID", message: `the worker's output ${problem}`, retryable: false, retryAfterMs: 0 }
        : { kind: "completed", output };
      const outcome = await report(req.token, body);
      const recordedAs = outcome.recordedAs ?? (problem ? { errorKind: "OUTPUT_INVALID", message: `output ${problem}` } : null);
      if (recordedAs && !outcome.alreadyRecorded) {
        throw new DomainError("INVALID_ARGUMENT", `output: ${recordedAs.message}; the attempt was recorded as failed (${recordedAs.errorKind}, not retried)`, [
          { field: "output", description: recordedAs.message },
        ]);
      }
      return { alreadyRecorded: outcome.alreadyRecorded };
    },

    async failTask(req) {
      const retryAfterMs = durationMs(req.retryAfter);
      if (retryAfterMs < 0) throw new DomainError("INVALID_ARGUMENT", "retry_after: must not be negative", [{ field: "retry_after", description: "must not be negative" }]);
      const kind = req.errorKind === "" ? "ERROR" : req.errorKind;
      if (kind.length > 64) throw new DomainError("INVALID_ARGUMENT", "error_kind: at most 64 characters", [{ field: "error_kind", description: "at most 64 characters" }]);
      // Details are kept with the failure, in the step's error text (the history has no other field for them).
      const details = req.details && Object.keys(req.details).length > 0 ? ` ${JSON.stringify(req.details)}` : "";
      const full = `${req.message}${details}`;
      const message = full.length > 4096 ? `${full.slice(0, 4096)}…` : full;
      const outcome = await report(req.token, { kind: "failed", errorKind: kind, message, retryable: req.retryable, retryAfterMs });
      return { alreadyRecorded: outcome.alreadyRecorded };
    },

    async reportCancelled(req) {
      const outcome = await report(req.token, { kind: "cancelled", message: req.message.slice(0, 4096) });
      return { alreadyRecorded: outcome.alreadyRecorded };
    },

    async drain(req) {
      const id = requireSessionId(req.sessionId);
      const row = await sessions.drain(id, clock.now());
      if (!row) throw sessionNotFound(id);
      const local = dispatcher.find(id);
      if (local) {
        local.draining = true;
        local.push(message({ case: "drain", value: create(DrainRequestedSchema) }));
      }
      const held = await tasks.heldBy([id]);
      logger.info({ session_id: id, instance_id: row.instanceId, in_flight: held.length }, "worker session draining");
      return { inFlight: held.length };
    },

    async listWorkers(req) {
      const rows = await sessions.list(clock.now(), req.action === "" ? null : req.action);
      return {
        workers: rows.map((w) =>
          create(WorkerSchema, {
            sessionId: w.id,
            instanceId: w.instanceId,
            actions: w.actions.map((a) => create(WorkerActionSchema, a)),
            slots: w.slots,
            inFlight: w.inFlight ?? 0,
            labels: w.labels,
            sdk: w.sdk,
            replicaId: w.replicaId ?? "",
            connectTime: timestampFromMs(w.connectedAt),
            lastHeartbeatTime: timestampFromMs(w.heartbeatAt),
            draining: w.draining,
          }),
        ),
      };
    },
  };
}

function message(value: SubscribeResponse["message"]): SubscribeResponse {
  return create(SubscribeResponseSchema, { message: value });
}

/** Why an output cannot be a step's output (too big or too deep), or null; non-objects are the result path's call. */
function outputProblem(output: Json, maxBytes: number, maxDepth: number): string | null {
  if (nestsDeeperThan(output, maxDepth)) return `nests deeper than ${maxDepth} levels`;
  const bytes = Buffer.byteLength(JSON.stringify(output), "utf8");
  if (bytes > maxBytes) return `is ${bytes} bytes; the limit is ${maxBytes}`;
  return null;
}
