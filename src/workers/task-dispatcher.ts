import { attemptFailed } from "../domain/state-machine.js";
import type { Logger } from "pino";
import type { Clock } from "../domain/clock.js";
import { DomainError } from "../domain/errors.js";
import type { TaskOpen, TaskWrites } from "../domain/task-writes.js";
import type { JsonObject, SagaState } from "../domain/types.js";
import type { Engine } from "../engine/engine.js";
import type { TaskListener } from "../engine/task-listener.js";
import type { SagaStore } from "../store/saga-store.js";
import type { TaskRef, TaskRow, TaskStore } from "../store/task-store.js";
import type { SessionRow, WorkerSessionStore } from "../store/worker-session-store.js";
import { LocalSession, refKey, type HeldIndex, type HeldTask } from "./local-session.js";
import { taskMessage, type TaskLimits } from "./task-message.js";
import type { TaskTokens } from "./task-token.js";
import type { WorkerObserver } from "./worker-observer.js";
import type { WorkerSettings } from "./worker-settings.js";

export interface TaskDispatcherOptions {
  engine: Engine;
  sagas: SagaStore;
  tasks: TaskStore;
  sessions: WorkerSessionStore;
  tokens: TaskTokens;
  settings: WorkerSettings;
  clock: Clock;
  logger: Logger;
  observer?: WorkerObserver;
}

/** The slot a task's offer holds between assign() and its commit. */
const reservationKey = (sagaId: string, t: TaskOpen) => `assign:${refKey({ sagaId, stepIdx: t.stepIdx, phase: t.phase, attempt: t.attempt })}`;

/**
 * Offers tasks to the worker sessions connected to this replica. Fast path: a commit here that
 * opens a task writes it already offered to a local session with a free slot (chosen just
 * before the commit), and the task goes on the stream as soon as the commit returns; one that
 * found no free slot then is offered by one UPDATE if a slot has freed since. Backstop: the claim poll takes queued tasks of the actions local sessions serve (tasks
 * opened on other replicas, requeued ones, ones that found no free slot). Offers only go to
 * sessions with free slots; slot counts follow the task rows, refreshed on every poll.
 */
export class TaskDispatcher implements TaskListener {
  private readonly sessions = new Map<string, LocalSession>();
  /** Held tasks by saga: which (session, key) pairs a commit of that saga may concern. */
  private readonly bySaga = new Map<string, Map<LocalSession, Set<string>>>();
  /** The last sequence of a saga this replica committed and settled its held tasks for (skips our own NOTIFY echo). */
  private readonly settled = new Map<string, number>();
  private readonly index: HeldIndex = {
    add: (sagaId, session, key) => {
      let sessions = this.bySaga.get(sagaId);
      if (!sessions) this.bySaga.set(sagaId, (sessions = new Map()));
      let keys = sessions.get(session);
      if (!keys) sessions.set(session, (keys = new Set()));
      keys.add(key);
    },
    remove: (sagaId, session, key) => {
      const sessions = this.bySaga.get(sagaId);
      const keys = sessions?.get(session);
      if (!sessions || !keys) return;
      keys.delete(key);
      if (keys.size === 0) sessions.delete(session);
      if (sessions.size === 0) {
        this.bySaga.delete(sagaId);
        this.settled.delete(sagaId);
      }
    },
  };
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | null = null;
  private pollAgain = false;
  private stopped = false;

  constructor(private readonly opts: TaskDispatcherOptions) {}

  start(): void {
    this.timer = setInterval(() => this.wake(), this.opts.settings.claimPollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.polling;
  }

  /** The session as served here, made (or refreshed from its row) on first use. */
  local(row: SessionRow): LocalSession {
    let session = this.sessions.get(row.id);
    if (session) session.update(row);
    else {
      session = new LocalSession(row.id, row.instanceId, row, this.index);
      this.sessions.set(row.id, session);
    }
    return session;
  }

  find(sessionId: string): LocalSession | undefined {
    return this.sessions.get(sessionId);
  }

  /** Drops a session that has no stream or poll here any more (it may live on elsewhere). */
  forgetIfIdle(session: LocalSession): void {
    if (session.attached || this.sessions.get(session.id) !== session) return;
    for (const [key] of session.heldTasks()) session.release(key);
    this.sessions.delete(session.id);
  }

  allSessions(): LocalSession[] {
    return [...this.sessions.values()];
  }

  /** A result for `ref` was recorded (here): its slot is free at once. */
  released(sessionId: string | null, ref: TaskRef): void {
    const session = sessionId === null ? undefined : this.sessions.get(sessionId);
    if (session?.release(refKey(ref))) this.wake();
  }

  /** Tasks went back to the queue (ack deadline, lost worker): free their slots and offer them again. */
  requeued(rows: readonly TaskRow[], why: "ack_timeout" | "worker_lost"): void {
    for (const row of rows) {
      const session = row.sessionId ? this.sessions.get(row.sessionId) : undefined;
      session?.release(refKey(row));
      if (session && why === "ack_timeout") session.suspect = true;
      this.opts.observer?.requeued(row.action, why);
    }
    this.wake();
  }

  /** Sessions with a stream or a poll on this replica now. */
  connectedCount(): number {
    let n = 0;
    for (const session of this.sessions.values()) if (session.attached) n++;
    return n;
  }

  /**
   * The fast path, before the commit: each opened task goes to the local session with the most
   * free slots for its action, reserved now and written already offered by the commit.
   */
  assign(sagaId: string, writes: TaskWrites): TaskWrites {
    if (this.sessions.size === 0 || this.stopped) return writes;
    let open: TaskOpen[] | null = null;
    writes.open.forEach((task, i) => {
      // A later attempt may resume from the progress of the one before, which its offer reads.
      if (task.attempt > 1) return;
      const session = this.pick(task.action);
      if (!session) return;
      session.hold(reservationKey(sagaId, task), { ref: { sagaId, ...task, delivery: 1 }, action: task.action, token: "", cancelSent: false });
      open ??= writes.open.slice();
      open[i] = { ...task, offer: { sessionId: session.id, worker: session.instanceId, ackDeadline: this.opts.clock.now() + this.opts.settings.ackTimeoutMs } };
    });
    return open === null ? writes : { ...writes, open };
  }

  abandoned(sagaId: string, writes: TaskWrites): void {
    for (const task of writes.open) {
      if (task.offer) this.sessions.get(task.offer.sessionId)?.release(reservationKey(sagaId, task));
    }
  }

  committed(saga: SagaState, writes: TaskWrites): void {
    for (const open of writes.open) {
      const key = { sagaId: saga.id, ...open };
      if (!open.offer) {
        void this.offerNow(saga, key, open);
        continue;
      }
      const session = this.sessions.get(open.offer.sessionId);
      session?.release(reservationKey(saga.id, open));
      if (session) this.deliver(session, saga, { ...key, delivery: 1 }, open.action, open.offer.ackDeadline, open, null, saga.updatedAt);
    }
    if (!this.bySaga.has(saga.id)) return;
    this.settled.set(saga.id, saga.sequence);
    if (writes.close.length > 0 || writes.cancel !== null) this.settleHeld(saga.id, writes);
  }

  /**
   * A commit announced by NOTIFY: if it is another replica's and our sessions hold tasks of that
   * saga, their rows may have changed (finished, cancelled, timed out), so read them.
   */
  sagaChanged(sagaId: string, sequence: number): void {
    if (!this.bySaga.has(sagaId) || sequence <= (this.settled.get(sagaId) ?? 0)) return;
    const held = this.heldOf(sagaId);
    if (held.length === 0) return;
    void this.opts.tasks
      .rowsOf(held.map((h) => h.task.ref))
      .then((rows) => this.applyRows(rows))
      .catch((err: unknown) => this.opts.logger.warn({ err, saga_id: sagaId }, "could not read tasks after a commit"));
  }

  /** Runs the claim poll soon (coalesced). */
  wake(): void {
    if (this.stopped) return;
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    this.polling = this.poll()
      .catch((err: unknown) => this.opts.logger.warn({ err }, "task claim poll failed"))
      .finally(() => {
        this.polling = null;
        if (this.pollAgain) {
          this.pollAgain = false;
          this.wake();
        }
      });
  }

  /** The fast path: offer a task this replica just opened to a local session with a free slot. */
  private async offerNow(saga: SagaState, key: Omit<TaskRef, "delivery">, limits: TaskLimits & { action: string }): Promise<void> {
    const session = this.pick(limits.action);
    if (!session) return;
    const reservation = `reserve:${refKey(key)}`;
    session.hold(reservation, { ref: { ...key, delivery: 0 }, action: limits.action, token: "", cancelSent: false });
    try {
      const ackDeadline = this.opts.clock.now() + this.opts.settings.ackTimeoutMs;
      const offered = await this.opts.tasks.offer(key, session.id, session.instanceId, ackDeadline);
      if (offered === null) return;
      this.deliver(session, saga, { ...key, delivery: offered.delivery }, limits.action, ackDeadline, limits, offered.lastProgress, saga.updatedAt);
    } catch (err) {
      this.opts.logger.warn({ err, saga_id: key.sagaId }, "could not offer a task; the claim poll will");
    } finally {
      session.release(reservation);
    }
  }

  /** The session with the most free slots for `action`, a suspect one only if no other has any. */
  private pick(action: string): LocalSession | undefined {
    let best: LocalSession | undefined;
    let bestScore = 0;
    for (const session of this.sessions.values()) {
      const free = session.freeFor(action);
      const score = free === 0 ? 0 : session.suspect ? free : free + 1_000_000;
      if (score > bestScore) {
        best = session;
        bestScore = score;
      }
    }
    return best;
  }

  /** Sessions in the order the claim poll serves them: those that answer their offers first. */
  private byTrust(): LocalSession[] {
    return [...this.sessions.values()].sort((a, b) => Number(a.suspect) - Number(b.suspect));
  }

  private deliver(
    session: LocalSession,
    saga: SagaState,
    ref: TaskRef,
    action: string,
    ackDeadline: number,
    limits: TaskLimits,
    lastProgress: JsonObject | null,
    queuedAt: number,
  ): void {
    const token = this.opts.tokens.sign(ref);
    let message;
    try {
      message = taskMessage(saga, ref, token, ackDeadline, limits, lastProgress);
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      void this.templateFailed(ref, saga, err.message);
      return;
    }
    const held: HeldTask = { ref, action, token, cancelSent: false };
    session.hold(refKey(ref), held);
    this.opts.observer?.offered(action, Math.max(0, this.opts.clock.now() - queuedAt));
    if (!session.send(message)) this.opts.logger.debug({ session_id: session.id }, "offered task has no receiver now; it is offered again after its ack deadline");
  }

  /** A config that cannot be rendered fails the attempt for good, as for an embedded action. */
  private async templateFailed(ref: TaskRef, saga: SagaState, message: string): Promise<void> {
    const step = saga.steps[ref.stepIdx]!;
    const input = attemptFailed(ref.phase, { step: step.name, attempt: ref.attempt, error: message, errorKind: "TEMPLATE_ERROR", retryable: false });
    await this.opts.engine
      .applyResult(saga.id, input, { key: ref, result: "failed", digest: null })
      .catch((err: unknown) => this.opts.logger.warn({ err, saga_id: saga.id }, "could not record a template error"));
  }

  private async poll(): Promise<void> {
    if (this.sessions.size === 0) return;
    await this.refreshHeld();
    if (![...this.sessions.values()].some((s) => s.attached)) return;
    const queued = await this.opts.tasks.queuedActions();
    const loaded = new Map<string, Promise<SagaState | null>>();
    const sagaOf = (id: string) => {
      let p = loaded.get(id);
      if (!p) loaded.set(id, (p = this.opts.sagas.loadSaga(id).then((l) => l?.state ?? null)));
      return p;
    };
    const sessions = this.byTrust();
    for (const action of queued) {
      for (const session of sessions) {
        if (this.stopped) return;
        const free = session.freeFor(action);
        if (free === 0) continue;
        const ackDeadline = this.opts.clock.now() + this.opts.settings.ackTimeoutMs;
        const rows = await this.opts.tasks.claim(action, free, session.id, session.instanceId, ackDeadline);
        for (const row of rows) {
          const saga = await sagaOf(row.sagaId);
          if (!saga) continue;
          const ref = { sagaId: row.sagaId, stepIdx: row.stepIdx, phase: row.phase, attempt: row.attempt, delivery: row.delivery };
          const limits = { timeoutMs: row.timeoutMs, heartbeatMs: row.heartbeatMs };
          this.deliver(session, saga, ref, action, ackDeadline, limits, row.lastProgress, row.queuedAt);
        }
        if (rows.length < free) break; // the queue of this action is empty for now
      }
    }
  }

  /**
   * Slot counts follow the rows: what our sessions hold per Postgres, whoever recorded what. And
   * a session whose row expired (its heartbeats stopped; the stream may look open, as one a proxy
   * silently dropped does) loses its stream here, so no offer goes to it again.
   */
  private async refreshHeld(): Promise<void> {
    // Only the sessions asked about: one that subscribed during the query is not known dead.
    const asked = [...this.sessions.values()];
    const alive = await this.opts.sessions.alive(asked.map((s) => s.id), this.opts.clock.now());
    for (const session of asked) {
      if (alive.has(session.id) || this.sessions.get(session.id) !== session) continue;
      this.opts.logger.info({ session_id: session.id, instance_id: session.instanceId }, "worker session expired; closing its stream here");
      session.close();
      this.forgetIfIdle(session);
    }
    const ids = [...this.sessions.keys()];
    const rows = await this.opts.tasks.heldBy(ids);
    const stillHeld = new Set(rows.map((r) => `${r.sessionId}|${refKey(r)}|${r.delivery}`));
    for (const session of this.sessions.values()) {
      for (const [key, task] of session.heldTasks()) {
        if (key.startsWith("reserve:") || key.startsWith("assign:")) continue;
        if (!stillHeld.has(`${session.id}|${key}|${task.ref.delivery}`)) session.release(key);
      }
    }
    for (const row of rows) {
      const session = row.sessionId === null ? undefined : this.sessions.get(row.sessionId);
      const task = session?.heldTask(refKey(row));
      if (session && task && row.cancelReason !== null) session.cancel(task, row.cancelReason);
    }
  }

  private heldOf(sagaId: string): { session: LocalSession; task: HeldTask }[] {
    const found: { session: LocalSession; task: HeldTask }[] = [];
    for (const [session, keys] of this.bySaga.get(sagaId) ?? []) {
      for (const key of keys) {
        const task = session.heldTask(key);
        if (task && task.token !== "") found.push({ session, task });
      }
    }
    return found;
  }

  /** A commit here closed or cancelled tasks: free their slots, and tell workers what to stop. */
  private settleHeld(sagaId: string, writes: TaskWrites): void {
    for (const { session, task } of this.heldOf(sagaId)) {
      const closed = writes.close.find((c) => c.stepIdx === task.ref.stepIdx && c.phase === task.ref.phase && c.attempt === task.ref.attempt);
      if (closed) {
        if (closed.result === "timed_out") session.cancel(task, "attempt timed out");
        else if (closed.result === "superseded") session.cancel(task, "the step moved on");
        session.release(refKey(task.ref));
      } else if (writes.cancel !== null) {
        session.cancel(task, writes.cancel);
      }
    }
    if (writes.close.length > 0) this.wake();
  }

  private applyRows(rows: readonly TaskRow[]): void {
    for (const row of rows) {
      for (const [session] of this.bySaga.get(row.sagaId) ?? []) {
        const task = session.heldTask(refKey(row));
        if (!task || task.ref.delivery !== row.delivery) continue;
        if (row.state === "done") {
          if (row.result === "timed_out") session.cancel(task, "attempt timed out");
          else if (row.result === "superseded") session.cancel(task, "the step moved on");
          session.release(refKey(row));
          this.wake();
        } else if (row.cancelReason !== null) {
          session.cancel(task, row.cancelReason);
        }
      }
    }
  }
}
