import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { ActionDefinition, ActionHandler, WorkerLogger, WorkerOptions } from "./worker-options.js";

/** The server's limits (worker.proto), checked here so a bad option fails at createWorker, not at register. */
const MAX_SLOTS = 10_000;
const MAX_INSTANCE_ID = 128;
const MAX_POLL_WAIT_MS = 30_000;

/** The options with defaults applied and limits checked, so the rest of the SDK reads plain values. */
export interface ResolvedOptions {
  actions: ReadonlyMap<string, { handler: ActionHandler; maxConcurrency: number }>;
  slots: number;
  instanceId: string;
  labels: Record<string, string>;
  logger: WorkerLogger;
  mode: "subscribe" | "poll";
  stopGraceMs: number;
  handleSignals: boolean;
  streamIdleTimeoutMs: number;
  pollWaitMs: number;
}

/** Info is quiet by default: a worker library should not chat on a service's stdout unasked. */
const consoleLogger: WorkerLogger = {
  info: () => {},
  warn: (message, fields) => console.warn(`sagad worker: ${message}`, fields ?? ""),
  error: (message, fields) => console.error(`sagad worker: ${message}`, fields ?? ""),
};

/** Applies defaults and throws a TypeError naming the option for anything the server would refuse. */
export function resolveOptions(options: WorkerOptions): ResolvedOptions {
  const actions = new Map<string, { handler: ActionHandler; maxConcurrency: number }>();
  for (const [name, value] of Object.entries(options.actions ?? {})) {
    const def: ActionDefinition = typeof value === "function" ? { handler: value } : value;
    if (typeof def?.handler !== "function") throw new TypeError(`actions.${name}: a handler function is required`);
    const maxConcurrency = def.maxConcurrency ?? 0;
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 0) {
      throw new TypeError(`actions.${name}.maxConcurrency must be a non-negative integer`);
    }
    actions.set(name, { handler: def.handler, maxConcurrency });
  }
  if (actions.size === 0) throw new TypeError("actions: at least one action is required");
  const slots = options.slots ?? 10;
  if (!Number.isInteger(slots) || slots < 1 || slots > MAX_SLOTS) {
    throw new TypeError(`slots must be an integer from 1 to ${MAX_SLOTS}`);
  }
  const instanceId = options.instanceId ?? `${hostname()}-${process.pid}-${randomBytes(4).toString("hex")}`;
  if (instanceId.length < 1 || instanceId.length > MAX_INSTANCE_ID) {
    throw new TypeError(`instanceId must be 1 to ${MAX_INSTANCE_ID} characters`);
  }
  if (options.transport === undefined && !options.url) throw new TypeError("url (or transport) is required");
  return {
    actions,
    slots,
    instanceId,
    labels: { ...options.labels },
    logger: options.logger ?? consoleLogger,
    mode: options.mode ?? "subscribe",
    stopGraceMs: nonNegative(options.stopGraceMs ?? 30_000, "stopGraceMs"),
    handleSignals: options.handleSignals ?? false,
    streamIdleTimeoutMs: positive(options.streamIdleTimeoutMs ?? 35_000, "streamIdleTimeoutMs"),
    pollWaitMs: Math.min(MAX_POLL_WAIT_MS, positive(options.pollWaitMs ?? MAX_POLL_WAIT_MS, "pollWaitMs")),
  };
}

function nonNegative(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) throw new TypeError(`${name} must be a non-negative number of milliseconds`);
  return value;
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`${name} must be a positive number of milliseconds`);
  return value;
}
