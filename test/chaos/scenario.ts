import type { Cleanup } from "./cleanup.js";
import type { ChaosOptions, Scenario } from "./flags.js";
import type { Random } from "./random.js";

/** What every scenario gets from main. */
export interface ScenarioContext {
  options: ChaosOptions;
  cleanup: Cleanup;
  random: Random;
  log: (msg: string) => void;
  /** Distinguishes this run's request ids and names from any other run's. */
  runId: string;
}

/** A fault injected, or the recovery from one (a restart), for the report. */
export interface Fault {
  atS: number;
  kind: string;
  detail: string;
  /** False for the recoveries (restarts), which are listed but not counted as faults. */
  injected: boolean;
}

/** A scenario's outcome: the headline counters, every check with its verdict, and the details. */
export interface ScenarioResult {
  scenario: Scenario;
  passed: boolean;
  seconds: number;
  faults: Fault[];
  /** Sagas the scenario ran (created and drove to rest). */
  sagas: number;
  lost: number;
  stuck: number;
  duplicates: number;
  /** Each check: a name, whether it held, and the observed value. */
  checks: Check[];
  details: Record<string, unknown>;
}

export interface Check {
  name: string;
  held: boolean;
  observed: string | number;
}

/** A check that `observed` is 0. */
export function zero(name: string, observed: number): Check {
  return { name, held: observed === 0, observed };
}

export function check(name: string, held: boolean, observed: string | number): Check {
  return { name, held, observed };
}

export function elapsedS(since: number): number {
  return Math.round((Date.now() - since) / 100) / 10;
}
