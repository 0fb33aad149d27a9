import { SagaStatus, StepStatus, TaskState, type Saga, type SagaClient, type SubscribeResponse, type Task, type WorkerClient } from "../../src/client/index.js";

/** Fast protocol timing for tests, with room for a loaded CI machine: sessions die 900 ms after their last heartbeat (RawWorker beats every 100 ms), unacked offers return after 1 s. */
export const FAST_WORKERS = { heartbeatIntervalMs: 300, ackTimeoutMs: 1_000, keepaliveMs: 300, claimPollMs: 50, sweepMs: 50, maxRequeues: 2 };

/**
 * A hand-driven worker over the raw protocol: tests decide when to ack, heartbeat and report, so
 * they can break each rule on purpose.
 */
export class RawWorker {
  readonly tasks: Task[] = [];
  readonly messages: SubscribeResponse[] = [];
  sessionId = "";
  private readonly abort = new AbortController();
  private waiters: (() => void)[] = [];
  private streamDone: Promise<void> = Promise.resolve();
  private beat: NodeJS.Timeout | undefined;
  /** Tasks the background heartbeat lists (acked and not yet reported). */
  readonly running = new Set<Task>();
  /** The server ended the stream (or it broke). */
  ended = false;

  constructor(
    readonly client: WorkerClient,
    readonly instanceId: string,
    readonly actions: string[],
    readonly slots = 10,
  ) {}

  async register(): Promise<string> {
    const res = await this.client.registerWorker({
      instanceId: this.instanceId,
      actions: this.actions.map((name) => ({ name })),
      slots: this.slots,
      sdk: "raw-test",
    });
    this.sessionId = res.sessionId;
    // Alive until close(): liveness comes only from heartbeats.
    clearInterval(this.beat);
    this.beat = setInterval(() => void this.heartbeat([...this.running]).catch(() => undefined), 100);
    return res.sessionId;
  }

  /** Stops heartbeating (the session then dies after its TTL) but keeps the stream. */
  stopHeartbeats(): void {
    clearInterval(this.beat);
  }

  subscribe(): void {
    const stream = this.client.subscribe({ sessionId: this.sessionId }, { signal: this.abort.signal });
    this.streamDone = (async () => {
      try {
        for await (const m of stream) {
          this.messages.push(m);
          if (m.message.case === "task") this.tasks.push(m.message.value);
          for (const w of this.waiters.splice(0)) w();
        }
      } catch {
        // aborted by the test, or the server went away
      }
      this.ended = true;
      for (const w of this.waiters.splice(0)) w();
    })();
  }

  /** Waits until `predicate` holds over what the stream brought. */
  async waitFor<T>(predicate: () => T | undefined | false, timeoutMs = 5_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = predicate();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting on worker ${this.instanceId}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 25);
      });
    }
  }

  nextTask(count = 1): Promise<Task> {
    return this.waitFor(() => this.tasks.length >= count && this.tasks[count - 1]);
  }

  async ack(...tasks: Task[]): Promise<string[]> {
    const rejected = (await this.client.ackTasks({ sessionId: this.sessionId, tokens: tasks.map((t) => t.token) })).rejectedTokens;
    for (const task of tasks) if (!rejected.includes(task.token)) this.running.add(task);
    return rejected;
  }

  heartbeat(tasks: Task[] = [], progress?: Record<string, unknown>) {
    return this.client.heartbeat({ sessionId: this.sessionId, tasks: tasks.map((t) => ({ token: t.token, progress: progress as never })) });
  }

  complete(task: Task, output: unknown) {
    this.running.delete(task);
    return this.client.completeTask({ token: task.token, output: toValue(output) });
  }

  async close(): Promise<void> {
    clearInterval(this.beat);
    this.abort.abort();
    await this.streamDone;
  }
}

/** A JSON value as a google.protobuf.Value init shape. */
export function toValue(v: unknown): never {
  if (v === null) return { kind: { case: "nullValue", value: 0 } } as never;
  if (typeof v === "number") return { kind: { case: "numberValue", value: v } } as never;
  if (typeof v === "string") return { kind: { case: "stringValue", value: v } } as never;
  if (typeof v === "boolean") return { kind: { case: "boolValue", value: v } } as never;
  if (Array.isArray(v)) return { kind: { case: "listValue", value: { values: v.map(toValue) } } } as never;
  return { kind: { case: "structValue", value: { fields: Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, toValue(x)])) } } } as never;
}

/**
 * Polls GetSaga until `done` holds (a status, or any predicate) and returns the saga; a timeout
 * fails with where the saga and its steps are, so a stuck test says why.
 */
export async function sagaUntil(client: SagaClient, id: string, done: SagaStatus | ((saga: Saga) => boolean), timeoutMs = 8_000): Promise<Saga> {
  const holds = typeof done === "function" ? done : (s: Saga) => s.status === done;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { saga } = await client.getSaga({ id });
    if (holds(saga!)) return saga!;
    if (Date.now() > deadline) {
      const steps = saga!.steps.map((s) => `${s.name}=${StepStatus[s.status]}${s.taskState ? `/${TaskState[s.taskState]}` : ""}${s.errorKind ? ` ${s.errorKind}` : ""}`);
      throw new Error(`saga ${id} is ${SagaStatus[saga!.status]} (${steps.join(", ")}) after ${timeoutMs}ms`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

let workers = 0;

/** A registered, subscribed RawWorker with a fresh instance id (`prefix-N`). */
export async function connectWorker(client: WorkerClient, prefix: string, actions: string[], slots = 10): Promise<RawWorker> {
  const w = new RawWorker(client, `${prefix}-${++workers}`, actions, slots);
  await w.register();
  w.subscribe();
  return w;
}
