import type { Interceptor, Transport } from "@connectrpc/connect";
import type { TaskContext } from "./task-context.js";

/**
 * What an action handler returns: the step output. A plain JSON object is the output; `undefined`
 * becomes `{}`; any other JSON value is wrapped as `{ value }`, as for actions built into sagad.
 */
export type ActionResult = unknown;

/** Runs one task. Throw an `ActionError` to choose the failure kind and whether it is retried. */
export type ActionHandler = (ctx: TaskContext) => Promise<ActionResult> | ActionResult;

/** A handler with its own limit, for actions that share a scarce resource (a rate-limited API). */
export interface ActionDefinition {
  handler: ActionHandler;
  /** Most tasks of this action at once on this worker; unset or 0 means only `slots` limits it. */
  maxConcurrency?: number;
}

/** The few log calls the worker makes; `console` fits, so does a small adapter over pino. */
export interface WorkerLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface WorkerOptions {
  /** The sagad server's root, e.g. "http://127.0.0.1:8080". Ignored when `transport` is given. */
  url?: string;
  /** API token (`sagad_…`) with the worker scope, sent as a bearer token on every call. */
  token?: string;
  /** The actions this worker serves, by the name steps use. At least one. */
  actions: Record<string, ActionHandler | ActionDefinition>;
  /** Most tasks running at once, 1 to 10000. Default 10. */
  slots?: number;
  /** Names this process to the server; registering again with it resumes the session. Default host-pid-random. */
  instanceId?: string;
  /** Shown by ListWorkers (region, version, …). */
  labels?: Record<string, string>;
  /** Wire protocol, both over HTTP/2. Default "connect". */
  protocol?: "connect" | "grpc";
  /** Default: warnings and errors to the console, nothing for info. */
  logger?: WorkerLogger;
  /** Connect interceptors for every call the worker makes (tracing, logging), on the transport built from `url`. */
  interceptors?: Interceptor[];
  /** Replaces the transport built from `url`, `token`, `protocol` and `interceptors` (tests). */
  transport?: Transport;
  /** "subscribe" (default) has tasks pushed on a stream; "poll" long-polls PollTasks, for proxies that buffer streams. */
  mode?: "subscribe" | "poll";
  /** How long stop() lets in-flight tasks finish before it aborts their signals. Default 30 s. */
  stopGraceMs?: number;
  /** Install SIGTERM/SIGINT handlers that call stop() when start() is called. Default false. */
  handleSignals?: boolean;
  /**
   * A Subscribe stream with no message (the server sends a keepalive every ~15 s) for this long is
   * taken for dead and opened again. Default 35 s.
   */
  streamIdleTimeoutMs?: number;
  /** How long one PollTasks call waits for a task, at most 30 s. Default 30 s. */
  pollWaitMs?: number;
}
