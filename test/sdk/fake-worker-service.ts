import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter, type ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  SubscribeResponseSchema,
  TaskSchema,
  WorkerService,
  type AckTasksRequest,
  AckTasksResponseSchema,
  HeartbeatResponseSchema,
  type CompleteTaskRequest,
  type DrainRequest,
  type FailTaskRequest,
  type HeartbeatRequest,
  type PollTasksRequest,
  type RegisterWorkerRequest,
  type ReportCancelledRequest,
  type SubscribeRequest,
  type SubscribeResponse,
  type Task,
} from "../../src/gen/saga/v1/worker_pb.js";

export type TaskInit = MessageInitShape<typeof TaskSchema>;
export type MessageInit = MessageInitShape<typeof SubscribeResponseSchema>["message"];

/** Every call the fake received, in order per method. */
export interface Calls {
  register: RegisterWorkerRequest[];
  subscribe: SubscribeRequest[];
  poll: PollTasksRequest[];
  ack: AckTasksRequest[];
  heartbeat: HeartbeatRequest[];
  complete: CompleteTaskRequest[];
  fail: FailTaskRequest[];
  cancelled: ReportCancelledRequest[];
  drain: DrainRequest[];
}

/** Per-method overrides: throw a ConnectError to fail the call, return a partial answer to shape it. */
export interface Hooks {
  ack?: (req: AckTasksRequest) => MessageInitShape<typeof AckTasksResponseSchema> | void;
  heartbeat?: (req: HeartbeatRequest) => MessageInitShape<typeof HeartbeatResponseSchema> | void;
  complete?: (req: CompleteTaskRequest) => void;
}

/** One open Subscribe stream: what the test pushes, read by the handler's generator. */
class Channel {
  private readonly items: SubscribeResponse[] = [];
  private wake: (() => void) | undefined;
  private ended: { error?: Error } | undefined;

  push(message: SubscribeResponse): void {
    this.items.push(message);
    this.wake?.();
  }

  end(error?: Error): void {
    this.ended = error ? { error } : {};
    this.wake?.();
  }

  async *read(signal: AbortSignal): AsyncGenerator<SubscribeResponse> {
    const onAbort = (): void => this.wake?.();
    signal.addEventListener("abort", onAbort);
    try {
      for (;;) {
        const next = this.items.shift();
        if (next) {
          yield next;
          continue;
        }
        if (this.ended?.error) throw this.ended.error;
        if (this.ended || signal.aborted) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }
}

/**
 * An in-process WorkerService on a real HTTP/2 port that records every call. Sessions follow the
 * protocol: registering with a known instance_id resumes its session; `expireSessions()` forgets
 * them all, so later calls naming them fail with NOT_FOUND and registering again gets a new id.
 */
export class FakeWorkerService {
  readonly calls: Calls = {
    register: [],
    subscribe: [],
    poll: [],
    ack: [],
    heartbeat: [],
    complete: [],
    fail: [],
    cancelled: [],
    drain: [],
  };
  readonly hooks: Hooks = {};
  /** Content-type and authorization of each RegisterWorker call, to check protocol and token. */
  readonly registerHeaders: { contentType: string | null; authorization: string | null }[] = [];
  heartbeatIntervalMs = 100;
  private readonly sessions = new Map<string, string>();
  private readonly channels = new Set<Channel>();
  private readonly pollQueue: Task[] = [];
  private sessionCount = 0;
  private server: http2.Http2Server | undefined;
  private readonly h2Sessions = new Set<http2.ServerHttp2Session>();
  url = "";

  async listen(): Promise<this> {
    const handler = connectNodeAdapter({ routes: (router: ConnectRouter) => router.service(WorkerService, this.impl()) });
    const server = http2.createServer(handler);
    server.on("session", (session) => {
      this.h2Sessions.add(session);
      session.once("close", () => this.h2Sessions.delete(session));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const channel of this.channels) channel.end();
    for (const session of this.h2Sessions) session.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** Open Subscribe streams right now. */
  get openStreams(): number {
    return this.channels.size;
  }

  /** Pushes a message to every open stream. */
  push(message: MessageInit): void {
    const res = create(SubscribeResponseSchema, { message });
    for (const channel of this.channels) channel.push(res);
  }

  /** A task, on the streams (subscribe mode) or for the next poll; returns its token. */
  offer(init: TaskInit, via: "stream" | "poll" = "stream"): string {
    const task = create(TaskSchema, { sagaId: "s1", sagaName: "order", step: "charge", attempt: 1, delivery: 1, ...init });
    if (via === "poll") this.pollQueue.push(task);
    else this.push({ case: "task", value: task });
    return task.token;
  }

  /** Ends every open stream, with `error` or cleanly. */
  endStreams(error?: Error): void {
    for (const channel of this.channels) channel.end(error);
  }

  expireSessions(): void {
    this.sessions.clear();
  }

  /** Polls `check` until it holds (or fails the test after `timeoutMs`). */
  async waitFor(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  private requireSession(sessionId: string): void {
    if (![...this.sessions.values()].includes(sessionId)) {
      throw new ConnectError(`session ${sessionId} not found`, Code.NotFound);
    }
  }

  private impl(): ServiceImpl<typeof WorkerService> {
    return {
      registerWorker: (req, context) => {
        this.calls.register.push(req);
        this.registerHeaders.push({
          contentType: context.requestHeader.get("content-type"),
          authorization: context.requestHeader.get("authorization"),
        });
        let sessionId = this.sessions.get(req.instanceId);
        if (!sessionId) {
          sessionId = `session-${++this.sessionCount}`;
          this.sessions.set(req.instanceId, sessionId);
        }
        return {
          sessionId,
          heartbeatInterval: durationFromMs(this.heartbeatIntervalMs),
          sessionTtl: durationFromMs(3 * this.heartbeatIntervalMs),
          ackTimeout: durationFromMs(1000),
          replicaId: "fake",
        };
      },
      subscribe: (req, context) => {
        this.calls.subscribe.push(req);
        this.requireSession(req.sessionId);
        const channel = new Channel();
        this.channels.add(channel);
        const channels = this.channels;
        return (async function* () {
          try {
            yield* channel.read(context.signal);
          } finally {
            channels.delete(channel);
          }
        })();
      },
      pollTasks: async (req, context) => {
        this.calls.poll.push(req);
        this.requireSession(req.sessionId);
        const deadline = Date.now() + 200;
        while (this.pollQueue.length === 0 && Date.now() < deadline && !context.signal.aborted) {
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        return { tasks: this.pollQueue.splice(0, req.maxTasks || 1) };
      },
      ackTasks: (req) => {
        this.calls.ack.push(req);
        this.requireSession(req.sessionId);
        return { rejectedTokens: [], ...this.hooks.ack?.(req) };
      },
      heartbeat: (req) => {
        this.calls.heartbeat.push(req);
        this.requireSession(req.sessionId);
        return { cancel: [], unknownTokens: [], draining: false, ...this.hooks.heartbeat?.(req) };
      },
      completeTask: (req) => {
        this.calls.complete.push(req);
        this.hooks.complete?.(req);
        return { alreadyRecorded: false };
      },
      failTask: (req) => {
        this.calls.fail.push(req);
        return { alreadyRecorded: false };
      },
      reportCancelled: (req) => {
        this.calls.cancelled.push(req);
        return { alreadyRecorded: false };
      },
      drain: (req) => {
        this.calls.drain.push(req);
        this.requireSession(req.sessionId);
        return { inFlight: 0 };
      },
      listWorkers: () => ({ workers: [] }),
    };
  }
}
