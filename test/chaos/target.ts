import { startHttpRecorder, type HttpRecorder } from "../helpers/http-recorder.js";
import type { Random } from "./random.js";

/**
 * How a target endpoint answers, by attempt: `ok` always 200, `flaky` 503 (retryable) on the
 * first attempt and 200 after, `fail` 400 (not retryable) always. Deterministic per attempt, so
 * the harness knows what every recorded call answered and can hold the event history to it.
 */
export type Behaviour = "ok" | "flaky" | "fail";
export type Phase = "action" | "compensate";

export function statusFor(behaviour: Behaviour, attempt: number): number {
  if (behaviour === "fail") return 400;
  if (behaviour === "flaky" && attempt <= 1) return 503;
  return 200;
}

/** One request sagad's `http` action made, as the target saw it. */
export interface TargetCall {
  /** From the URL the harness put in the step config. */
  phase: Phase;
  behaviour: Behaviour;
  step: string;
  /** From the headers sagad sent. */
  sagaId: string;
  headerStep: string;
  attempt: number;
  idempotencyKey: string;
  replica: string;
  /** Epoch ms on this machine's clock (the clock sagad stamps events with). */
  receivedAtMs: number;
  status: number;
  /** How long the target waited before answering. */
  delayMs: number;
}

export interface Target {
  /** The URL a step's config points at. */
  url(phase: Phase, behaviour: Behaviour, step: string): string;
  /** Every call, in arrival order. */
  readonly calls: TargetCall[];
  /** Calls from `replica` that had arrived and were not answered yet at `atMs`. */
  inFlight(replica: string, atMs: number): number;
  /** Calls whose URL was not one of ours (should stay empty). */
  readonly strays: string[];
  close(): Promise<void>;
}

/** Answer delays: mostly quick, with a slow tail so kills and restarts catch calls in flight. */
export interface LatencyProfile {
  fastMs: [number, number];
  slowMs: [number, number];
  slowShare: number;
}

export const DEFAULT_LATENCY: LatencyProfile = { fastMs: [2, 30], slowMs: [100, 600], slowShare: 0.2 };

/**
 * The services saga steps call, in the harness process: an HTTP server (test/helpers/
 * http-recorder.ts) that answers by the behaviour in the path after a random delay, and records
 * saga id, step, attempt, Idempotency-Key, X-Sagad-Attempt, replica and arrival time of each call.
 */
export async function startTarget(random: Random, latency: LatencyProfile = DEFAULT_LATENCY): Promise<Target> {
  const recorder: HttpRecorder = await startHttpRecorder();
  const calls: TargetCall[] = [];
  const strays: string[] = [];
  recorder.reply = (call) => {
    const receivedAtMs = Date.now();
    const match = /^\/(a|c)\/(ok|flaky|fail)\/([^/]+)$/.exec(call.path);
    if (!match) {
      strays.push(`${call.method} ${call.path}`);
      return { status: 404 };
    }
    const behaviour = match[2] as Behaviour;
    const status = statusFor(behaviour, call.attempt);
    const [min, max] = random.chance(latency.slowShare) ? latency.slowMs : latency.fastMs;
    const delayMs = random.int(min, max);
    calls.push({
      phase: match[1] === "a" ? "action" : "compensate",
      behaviour,
      step: decodeURIComponent(match[3]!),
      sagaId: call.sagaId ?? "",
      headerStep: call.step ?? "",
      attempt: call.attempt,
      idempotencyKey: call.idempotencyKey ?? "",
      replica: call.replica ?? "",
      receivedAtMs,
      status,
      delayMs,
    });
    return { status, delayMs };
  };
  return {
    url: (phase, behaviour, step) => `${recorder.url}/${phase === "action" ? "a" : "c"}/${behaviour}/${encodeURIComponent(step)}`,
    calls,
    strays,
    inFlight: (replica, atMs) => calls.filter((c) => c.replica === replica && c.receivedAtMs <= atMs && c.receivedAtMs + c.delayMs > atMs).length,
    close: () => recorder.close(),
  };
}
