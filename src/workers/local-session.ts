import { create } from "@bufbuild/protobuf";
import { SubscribeResponseSchema, TaskCancelSchema, type SubscribeResponse, type Task } from "../gen/saga/v1/worker_pb.js";
import { refKey, type TaskRef } from "../store/task-store.js";
import type { ServedAction, SessionRow } from "../store/worker-session-store.js";
import { AsyncQueue } from "./async-queue.js";

/** A task this replica offered to (or saw held by) a session. */
export interface HeldTask {
  ref: TaskRef;
  action: string;
  token: string;
  cancelSent: boolean;
}

/** Where offers go: a Subscribe stream, or a PollTasks call that wants at most `remaining` more tasks. */
type Sink = { kind: "stream"; queue: AsyncQueue<SubscribeResponse> } | { kind: "poll"; remaining: number; deliver(task: Task): void };

/** Which sessions here hold tasks of which saga, so a commit's news reaches only those. */
export interface HeldIndex {
  add(sagaId: string, session: LocalSession, key: string): void;
  remove(sagaId: string, session: LocalSession, key: string): void;
}

export { refKey };

/**
 * A worker session as this replica serves it: the stream (or poll) offers go to, and the tasks it
 * holds, counted against its slots and per-action caps. The counts are this replica's view; the
 * dispatcher resets them from the task rows every few hundred milliseconds, so results recorded on
 * other replicas free slots here too.
 */
export class LocalSession {
  private readonly held = new Map<string, HeldTask>();
  private sink: Sink | null = null;
  private actions: Map<string, number>;
  slots: number;
  draining: boolean;
  /**
   * An offer to it went unacknowledged past its deadline: its stream may be dead without looking
   * so (a proxy that stopped forwarding). Until it acknowledges one or opens a new stream, it gets
   * offers only when no other session can take them, so requeued tasks go to workers that answer.
   */
  suspect = false;

  constructor(
    readonly id: string,
    readonly instanceId: string,
    row: Pick<SessionRow, "actions" | "slots" | "draining">,
    private readonly index: HeldIndex,
  ) {
    this.actions = toMap(row.actions);
    this.slots = row.slots;
    this.draining = row.draining;
  }

  update(row: Pick<SessionRow, "actions" | "slots" | "draining">): void {
    this.actions = toMap(row.actions);
    this.slots = row.slots;
    this.draining = row.draining;
  }

  get servedActions(): string[] {
    return [...this.actions.keys()];
  }

  /** Counts `task` against the slots (a reservation has no token yet). */
  hold(key: string, task: HeldTask): void {
    this.held.set(key, task);
    this.index.add(task.ref.sagaId, this, key);
  }

  release(key: string): boolean {
    const task = this.held.get(key);
    if (!task) return false;
    this.held.delete(key);
    this.index.remove(task.ref.sagaId, this, key);
    return true;
  }

  heldTask(key: string): HeldTask | undefined {
    return this.held.get(key);
  }

  heldTasks(): [string, HeldTask][] {
    return [...this.held];
  }

  /** How many more tasks of `action` it may take now: 0 unless something can receive them. */
  freeFor(action: string): number {
    if (this.sink === null || this.draining || (this.sink.kind === "stream" && this.sink.queue.isEnded)) return 0;
    const cap = this.actions.get(action);
    if (cap === undefined) return 0;
    const free = Math.min(this.slots - this.held.size, this.sink.kind === "poll" ? this.sink.remaining : Infinity);
    if (cap === 0) return Math.max(0, free);
    let ofAction = 0;
    for (const task of this.held.values()) if (task.action === action) ofAction++;
    return Math.max(0, Math.min(free, cap - ofAction));
  }

  /** A new stream replaces an older one of the same session here (that one ends). */
  openStream(): AsyncQueue<SubscribeResponse> {
    this.closeSink();
    this.suspect = false;
    const queue = new AsyncQueue<SubscribeResponse>();
    this.sink = { kind: "stream", queue };
    return queue;
  }

  /** A PollTasks call: offers go to `deliver`, at most `max` of them. */
  openPoll(max: number, deliver: (task: Task) => void): void {
    this.closeSink();
    this.suspect = false;
    this.sink = { kind: "poll", remaining: max, deliver };
  }

  /** Detaches `queue` (or the poll) if it is still the session's sink. */
  detach(queue: AsyncQueue<SubscribeResponse> | null): void {
    if (this.sink === null) return;
    if (queue === null ? this.sink.kind === "poll" : this.sink.kind === "stream" && this.sink.queue === queue) this.sink = null;
  }

  get attached(): boolean {
    return this.sink !== null;
  }

  /** Sends an offered task; false if nothing receives it (it stays offered until its ack deadline). */
  send(task: Task): boolean {
    const sink = this.sink;
    if (sink === null) return false;
    if (sink.kind === "poll") {
      sink.remaining--;
      sink.deliver(task);
    } else sink.queue.push(create(SubscribeResponseSchema, { message: { case: "task", value: task } }));
    return true;
  }

  /** Pushes a cancel on the stream, once per task (heartbeat answers repeat it regardless). */
  cancel(task: HeldTask, reason: string): void {
    if (task.cancelSent) return;
    const sink = this.sink;
    if (sink?.kind !== "stream") return;
    task.cancelSent = true;
    sink.queue.push(create(SubscribeResponseSchema, { message: { case: "cancel", value: create(TaskCancelSchema, { token: task.token, reason }) } }));
  }

  push(message: SubscribeResponse): void {
    if (this.sink?.kind === "stream") this.sink.queue.push(message);
  }

  /** Ends its stream here (its session expired): the handler returns, the worker must register again. */
  close(): void {
    this.closeSink();
  }

  private closeSink(): void {
    if (this.sink?.kind === "stream") this.sink.queue.end();
    this.sink = null;
  }
}

function toMap(actions: readonly ServedAction[]): Map<string, number> {
  return new Map(actions.map((a) => [a.name, a.maxConcurrency]));
}
