/**
 * The contract between the engine and the code a step runs. An action sees only rendered config and
 * the outputs it may depend on, never the saga row, so actions stay testable without a database.
 * Everything an action throws is turned into a failure record by `toActionFailure`; an action that
 * wants to steer retries throws an `ActionError` with an explicit `kind` and `retryable`.
 */
import type { Logger } from "pino";
import type { Json, JsonObject } from "../domain/types.js";

export interface ActionContext {
  sagaId: string;
  sagaName: string;
  step: string;
  phase: "action" | "compensate";
  /** 1-based attempt number of this phase. */
  attempt: number;
  /**
   * `<saga id>/<step>` for actions, `<saga id>/<step>/compensate` for compensations. Stable across
   * retries and replicas, so downstream services can de-duplicate a retried call.
   */
  idempotencyKey: string;
  /** The step's config with templates resolved. */
  config: JsonObject;
  vars: Readonly<Record<string, string>>;
  /** Outputs of completed or skipped steps; for compensate it includes the step's own output. */
  outputs: Readonly<Record<string, JsonObject>>;
  /** Fires on attempt timeout, cancel or shutdown; actions must stop promptly when it does. */
  signal: AbortSignal;
  logger: Logger;
}

export interface Action {
  readonly name: string;
  /** Resolves with the step output (normalised by `normalizeOutput`) or rejects with a failure. */
  run(ctx: ActionContext): Promise<JsonObject | Json | void>;
  /**
   * The circuit breaker a call with this (rendered) config goes through, when one breaker for the
   * whole action would be too coarse: the http action answers "http <host>", so one failing
   * service does not stop calls to the others. Default: the action's name. Must not throw; a bad
   * config is reported by `run`.
   */
  circuitKey?(config: JsonObject): string;
}

/**
 * A failure whose classification the action knows. `kind` is a stable UPPER_SNAKE reason that retry
 * policies (`nonRetryableErrors`) and clients match on; `retryable: false` fails the step at once.
 */
export class ActionError extends Error {
  override readonly name = "ActionError";
  readonly kind: string;
  readonly retryable: boolean;
  /** The least wait before the next attempt (e.g. a rate limit's Retry-After), for embedded actions and workers alike. */
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    options: { kind: string; retryable: boolean; cause?: unknown; retryAfterMs?: number },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = options.kind;
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** The error actions throw when `signal` fires; the engine re-labels it TIMEOUT or CANCELLED. */
export function abortedError(signal: AbortSignal, what: string): ActionError {
  const reason: unknown = signal.reason;
  const why = reason instanceof Error ? reason.message : reason === undefined ? "" : String(reason);
  return new ActionError(`${what} aborted${why ? `: ${why}` : ""}`, {
    kind: "ABORTED",
    retryable: true,
    cause: reason,
  });
}

export interface ActionFailure {
  message: string;
  kind: string;
  retryable: boolean;
  retryAfterMs?: number;
}

/**
 * Maps anything an action threw to a failure record. Never throws. Unknown errors are retryable:
 * it is safer to retry an idempotent call than to give up on a transient fault nobody classified.
 */
export function toActionFailure(err: unknown, signal?: AbortSignal): ActionFailure {
  if (err instanceof ActionError) {
    return { message: err.message, kind: err.kind, retryable: err.retryable, ...(err.retryAfterMs ? { retryAfterMs: err.retryAfterMs } : {}) };
  }
  const isError = err instanceof Error;
  const isAbort = isError && (err.name === "AbortError" || err.name === "TimeoutError");
  const message = isError ? err.message || err.name : stringify(err);
  if (isAbort || signal?.aborted) return { message, kind: "ABORTED", retryable: true };
  return { message, kind: "ERROR", retryable: true };
}

function stringify(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Turns an action's result into the JSON object stored as the step output. Returns a fresh copy,
 * so later mutation by the action cannot change what was recorded. Objects become the output as
 * they are; `undefined` becomes `{}`; any other JSON value is wrapped as `{ value }`. Object
 * properties whose value is `undefined` are dropped, as JSON.stringify would. Anything that would
 * not survive a JSON round trip unchanged (functions, bigint, symbols, NaN/Infinity, class
 * instances, cycles) is rejected with a non-retryable INVALID_OUTPUT rather than silently altered.
 */
export function normalizeOutput(value: unknown): JsonObject {
  if (value === undefined) return {};
  const json = toJson(value, "output", new Set());
  if (json !== null && typeof json === "object" && !Array.isArray(json)) return json;
  return { value: json };
}

function toJson(value: unknown, path: string, ancestors: Set<object>): Json {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") {
    if (Number.isFinite(value)) return value;
    throw invalidOutput(path, `is ${value}`);
  }
  if (typeof value !== "object") throw invalidOutput(path, `is a ${typeof value}`);
  if (ancestors.has(value)) throw invalidOutput(path, "is a circular reference");
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      return value.map((item: unknown, i) => {
        if (item === undefined) throw invalidOutput(`${path}[${i}]`, "is undefined");
        return toJson(item, `${path}[${i}]`, ancestors);
      });
    }
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw invalidOutput(path, `is a ${value.constructor?.name ?? "non-plain object"}, not a plain object`);
    }
    const out: JsonObject = {};
    for (const [key, item] of Object.entries(value)) {
      if (item !== undefined) out[key] = toJson(item, `${path}.${key}`, ancestors);
    }
    return out;
  } finally {
    ancestors.delete(value);
  }
}

function invalidOutput(path: string, problem: string): ActionError {
  return new ActionError(`action output is not JSON: ${path} ${problem}`, {
    kind: "INVALID_OUTPUT",
    retryable: false,
  });
}
