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

/**
 * A breaker that is closed, has no failure streak, no waiting step and no call in flight, and has
 * not been asked for this long, is forgotten. http keys follow the hosts sagas name; without this a
 * replica would keep a breaker (and a metrics series) for every host it ever called. Forgetting a
 * healthy breaker loses nothing but its totals: a new one starts closed, as it was.
 */
export const FORGET_IDLE_MS = 10 * 60_000;
/** Idle breakers are looked for when a new one is made, at most this often. */
const SWEEP_EVERY_MS = 60_000;

interface Entry {
  readonly circuit: Circuit;
  lastUsed: number;
  /** Calls admitted and not yet settled. */
  calls: number;
}

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
  private readonly circuits = new Map<string, Entry>();
  private readonly settings: BreakerSettings | null;
  private closed = false;
  private lastSweep: number;

  constructor(private readonly opts: CircuitBreakersOptions) {
    this.lastSweep = opts.clock.now();
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
    return this.entry(key, action)?.circuit.refusal() ?? null;
  }

  /**
   * Starts `fn` through the breaker of `key` if it admits the call now, else returns the refusal
   * without calling `fn`. See Circuit.call for the contract on `fn`.
   */
  call<T extends CallVerdict>(key: string, action: string, fn: () => Promise<T>): Admission<T> {
    const entry = this.entry(key, action);
    if (!entry) return { result: fn() };
    const admission = entry.circuit.call(fn);
    if ("result" in admission) {
      entry.calls++;
      const settled = () => {
        entry.calls--;
        entry.lastUsed = this.opts.clock.now();
      };
      admission.result.then(settled, settled);
    }
    return admission;
  }

  /**
   * Registers a step that waits for `key`'s breaker; `wake` is called once, when it is the step's
   * turn (the probe, or its batch of the release). Returns the function that withdraws it. For a
   * breaker this replica does not know (breakers off) the step is woken at once; after close, never.
   */
  wait(key: string, wake: (why: string) => void): () => void {
    if (this.closed) return () => {};
    const entry = this.circuits.get(key);
    if (entry) return entry.circuit.wait(wake);
    let cancelled = false;
    queueMicrotask(() => {
      if (!cancelled) wake(`circuit "${key}" is no longer tracked here`);
    });
    return () => {
      cancelled = true;
    };
  }

  /** Every breaker of this replica, by key (long-idle healthy ones are forgotten, see FORGET_IDLE_MS). */
  list(): CircuitSnapshot[] {
    return [...this.circuits.values()].map((e) => e.circuit.snapshot()).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Shutdown: stops every timer; waiting steps are left to whoever drives their sagas next. */
  close(): void {
    this.closed = true;
    for (const entry of this.circuits.values()) entry.circuit.close();
  }

  private entry(key: string, action: string): Entry | null {
    if (!this.settings) return null;
    const now = this.opts.clock.now();
    let entry = this.circuits.get(key);
    if (!entry) {
      this.forgetIdle(now);
      const circuit = new Circuit({
        key,
        action,
        failures: this.settings.failures,
        openMs: this.settings.openMs,
        clock: this.opts.clock,
        logger: this.opts.logger,
        releaseTickMs: this.opts.releaseTickMs ?? 100,
        probePatienceMs: this.opts.probePatienceMs ?? 1_000,
      });
      entry = { circuit, lastUsed: now, calls: 0 };
      this.circuits.set(key, entry);
    }
    entry.lastUsed = now;
    return entry;
  }

  private forgetIdle(now: number): void {
    if (now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    for (const [key, entry] of this.circuits) {
      if (entry.calls > 0 || now - entry.lastUsed < FORGET_IDLE_MS) continue;
      const s = entry.circuit.snapshot();
      if (s.state !== "CLOSED" || s.consecutiveFailures > 0 || s.waitingSteps > 0) continue;
      entry.circuit.close();
      this.circuits.delete(key);
    }
  }
}
