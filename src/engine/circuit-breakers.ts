import type { Logger } from "pino";
import type { Action } from "../actions/action.js";
import type { Clock } from "../domain/clock.js";
import type { JsonObject } from "../domain/types.js";
import { Circuit, type CallVerdict, type CircuitSnapshot, type Refusal } from "./circuit.js";

export type { CallVerdict, CircuitSnapshot, CircuitStateName, Refusal } from "./circuit.js";

/** Breaker thresholds of a replica (`--breaker-failures`, `--breaker-open-ms`). */
export interface BreakerSettings {
  /** Consecutive failed calls that open a breaker; 0 disables breakers. */
  failures: number;
  /** How long an open breaker refuses calls before it lets one probe through. */
  openMs: number;
}

export const DEFAULT_BREAKER_SETTINGS: BreakerSettings = { failures: 5, openMs: 10_000 };

export interface CircuitBreakersOptions {
  /** Absent, or `failures: 0`: no breakers, every call goes through. */
  settings?: BreakerSettings;
  clock: Clock;
  logger: Logger;
  /** Gradual release pace after a close; default 100 ms per batch (1, 2, 4, … steps). */
  releaseTickMs?: number;
  /** How long a woken probe candidate may take to call before the next waiter is woken; default 1 s. */
  probePatienceMs?: number;
}

export type Admission<T> = { refused: Refusal } | { result: Promise<T> };

/**
 * The key of the breaker guarding a call: what the action says (the http action: "http <host>")
 * or else the action's name. A key function that throws or answers nonsense falls back to the
 * name: the call itself will report what is wrong with the config.
 */
export function circuitKeyFor(action: Action, config: JsonObject): string {
  if (!action.circuitKey) return action.name;
  try {
    const key = action.circuitKey(config);
    return typeof key === "string" && key !== "" ? key : action.name;
  } catch {
    return action.name;
  }
}

/**
 * The circuit breakers of one replica, one per circuit key, made on first use. Breakers are per
 * replica on purpose: each replica judges the targets from where it stands, and nothing about a
 * breaker needs to survive a restart (a step that waits has its next attempt time in Postgres).
 * Steps the breakers refused wait here, on the replica that drives their saga, instead of on a
 * timer each, so a recovering target gets one probe and then a gradual ramp, not every step at once.
 */
export class CircuitBreakers {
  private readonly circuits = new Map<string, Circuit>();
  private readonly settings: BreakerSettings | null;
  private closed = false;

  constructor(private readonly opts: CircuitBreakersOptions) {
    const s = opts.settings;
    this.settings = s && s.failures > 0 ? s : null;
    if (s && (!Number.isSafeInteger(s.failures) || s.failures < 0)) {
      throw new Error(`breaker failures must be a non-negative integer, got ${s.failures}`);
    }
    if (this.settings && !(this.settings.openMs > 0)) {
      throw new Error(`breaker open time must be positive, got ${this.settings.openMs}`);
    }
  }

  get enabled(): boolean {
    return this.settings !== null;
  }

  /** Why a call on `key` may not be made now, or null. A refusal counts as a rejected call. */
  check(key: string, action: string): Refusal | null {
    return this.circuit(key, action)?.refusal() ?? null;
  }

  /**
   * Starts `fn` through the breaker of `key` if it admits the call now, else returns the refusal
   * without calling `fn`. See Circuit.call for the contract on `fn`.
   */
  call<T extends CallVerdict>(key: string, action: string, fn: () => Promise<T>): Admission<T> {
    const circuit = this.circuit(key, action);
    return circuit ? circuit.call(fn) : { result: fn() };
  }

  /**
   * Registers a step that waits for `key`'s breaker; `wake` is called once, when it is the step's
   * turn (the probe, or its batch of the release). Returns the function that withdraws it. For a
   * breaker this replica does not know (breakers off) the step is woken at once; after close, never.
   */
  wait(key: string, wake: () => void): () => void {
    if (this.closed) return () => {};
    const circuit = this.circuits.get(key);
    if (circuit) return circuit.wait(wake);
    let cancelled = false;
    queueMicrotask(() => {
      if (!cancelled) wake();
    });
    return () => {
      cancelled = true;
    };
  }

  /** Every breaker of this replica, by key. */
  list(): CircuitSnapshot[] {
    return [...this.circuits.values()].map((c) => c.snapshot()).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Shutdown: stops every timer; waiting steps are left to whoever drives their sagas next. */
  close(): void {
    this.closed = true;
    for (const circuit of this.circuits.values()) circuit.close();
  }

  private circuit(key: string, action: string): Circuit | null {
    if (!this.settings) return null;
    let circuit = this.circuits.get(key);
    if (!circuit) {
      circuit = new Circuit({
        key,
        action,
        failures: this.settings.failures,
        openMs: this.settings.openMs,
        clock: this.opts.clock,
        logger: this.opts.logger,
        releaseTickMs: this.opts.releaseTickMs ?? 100,
        probePatienceMs: this.opts.probePatienceMs ?? 1_000,
      });
      this.circuits.set(key, circuit);
    }
    return circuit;
  }
}
