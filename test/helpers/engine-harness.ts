import { pino } from "pino";
import type { Action } from "../../src/actions/action.js";
import { createDefaultRegistry, type ActionRegistry } from "../../src/actions/registry.js";
import { systemClock, type Clock } from "../../src/domain/clock.js";
import {
  DEFAULT_VALIDATION_LIMITS,
  validateCreateSaga,
  type RawRetryPolicy,
  type ValidatedSaga,
} from "../../src/domain/validate-saga.js";
import { RESTING_SAGA_STATUSES, type JsonObject, type SagaState, type StepState } from "../../src/domain/types.js";
import type { BreakerSettings } from "../../src/engine/circuit-breakers.js";
import type { EngineObserver } from "../../src/engine/engine-observer.js";
import { Engine } from "../../src/engine/engine.js";
import { EventBus } from "../../src/engine/event-bus.js";
import type { SagaStore } from "../../src/store/saga-store.js";
import { waitUntil } from "./wait.js";

/**
 * One replica's engine without the HTTP server or the LISTEN connection, for engine tests that
 * must control what the server would do on its own: hand it a store that injects faults or holds
 * a query at a gate, and deliver notifications (`engine.onNotification`) in a chosen order.
 */
export interface EngineReplica {
  engine: Engine;
  registry: ActionRegistry;
  store: SagaStore;
  /** Stops the engine once (later calls return the same promise). */
  stop(graceMs?: number): Promise<void>;
}

export interface EngineReplicaOptions {
  store: SagaStore;
  replicaId: string;
  actions: Action[];
  clock?: Clock;
  leaseTtlMs?: number;
  pollIntervalMs?: number;
  maxConcurrentSteps?: number;
  /** Start lease renewal and the claim poll (default true). */
  start?: boolean;
  /** Circuit breakers; default none. */
  breaker?: BreakerSettings;
  observer?: EngineObserver;
}

export function startEngineReplica(options: EngineReplicaOptions): EngineReplica {
  const registry = createDefaultRegistry(options.actions);
  const engine = new Engine({
    store: options.store,
    bus: new EventBus(),
    registry,
    clock: options.clock ?? systemClock,
    logger: pino({ level: "silent" }),
    replicaId: options.replicaId,
    leaseTtlMs: options.leaseTtlMs ?? 60_000,
    pollIntervalMs: options.pollIntervalMs ?? 60_000,
    maxConcurrentSteps: options.maxConcurrentSteps ?? 1_000,
    random: () => 0.5,
    breaker: options.breaker,
    observer: options.observer,
  });
  if (options.start !== false) engine.start();
  let stopping: Promise<void> | undefined;
  return {
    engine,
    registry,
    store: options.store,
    stop: (graceMs = 0) => (stopping ??= engine.stop(graceMs)),
  };
}

/** A step as tests write it; everything left out takes the CreateSaga default. */
export interface TestStep {
  name: string;
  action: string;
  dependsOn?: string[];
  config?: JsonObject;
  retryPolicy?: Partial<RawRetryPolicy>;
}

const UNSET_POLICY: RawRetryPolicy = {
  maxAttempts: 0,
  backoff: "",
  initialIntervalMs: null,
  maxIntervalMs: null,
  multiplier: 0,
  jitter: 0,
  timeoutMs: null,
  nonRetryableErrors: [],
};

/** A validated CreateSaga draft, as the API layer would hand it to `engine.create`. */
export function sagaDraft(registry: ActionRegistry, name: string, steps: TestStep[]): ValidatedSaga {
  return validateCreateSaga(
    {
      name,
      vars: {},
      labels: {},
      failurePolicy: "",
      maxRetries: 0,
      requestId: "",
      definition: "",
      definitionRef: null,
      steps: steps.map((s) => ({
        name: s.name,
        action: s.action,
        config: s.config ?? null,
        dependsOn: s.dependsOn ?? [],
        compensate: null,
        retryPolicy: s.retryPolicy ? { ...UNSET_POLICY, ...s.retryPolicy } : null,
      })),
    },
    DEFAULT_VALIDATION_LIMITS,
    (action) => registry.has(action),
  );
}

/** A promise with its resolver, for holding a query or an action at a point the test chooses. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** The saga as committed; fails the test if it does not exist. */
export async function storedSaga(store: SagaStore, id: string): Promise<SagaState> {
  const loaded = await store.loadSaga(id);
  if (!loaded) throw new Error(`saga ${id} not found`);
  return loaded.state;
}

/** Polls Postgres until the saga rests; fails with its last committed step statuses otherwise. */
export async function waitForRest(store: SagaStore, id: string, timeoutMs = 5_000): Promise<SagaState> {
  let last: SagaState | undefined;
  try {
    await waitUntil(async () => RESTING_SAGA_STATUSES.has((last = await storedSaga(store, id)).status), "saga to rest", timeoutMs);
  } catch {
    throw new Error(`saga ${id} did not rest in ${timeoutMs}ms; committed: ${describeSaga(last)}`);
  }
  return last!;
}

/** `RUNNING [a:COMPLETED b:RUNNING]`, for failure messages. */
export function describeSaga(saga: SagaState | undefined): string {
  if (!saga) return "nothing";
  return `${saga.status} [${saga.steps.map((s) => `${s.name}:${s.status}`).join(" ")}]`;
}

export function stepOf(saga: SagaState, name: string): StepState {
  const step = saga.steps.find((s) => s.name === name);
  if (!step) throw new Error(`saga ${saga.id} has no step ${name}`);
  return step;
}
