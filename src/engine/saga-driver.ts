import type { Logger } from "pino";
import type { ActionRegistry } from "../actions/registry.js";
import type { Clock } from "../domain/clock.js";
import { actionOf, attemptInFlight, compensationRetryScheduled } from "../domain/attempt-phase.js";
import { decide, type SagaInput } from "../domain/state-machine.js";
import { taskWrites, type RecordedResult } from "../domain/task-writes.js";
import { CIRCUIT_OPEN, RESTING_SAGA_STATUSES, type SagaEvent, type SagaState, type StepState } from "../domain/types.js";
import type { SagaStore } from "../store/saga-store.js";
import type { CircuitBreakers } from "./circuit-breakers.js";
import type { ConcurrencyLimiter } from "./concurrency-limiter.js";
import type { EngineObserver } from "./engine-observer.js";
import type { EventBus } from "./event-bus.js";
import { runAttempt, type AbortCause, type RunningAttempt } from "./step-runner.js";
import { commitAssigned, type TaskListener } from "./task-listener.js";
import { withTransientRetry } from "./transient-retry.js";

/** The saga after an input, and whether the input changed it. */
interface Applied {
  state: SagaState;
  applied: boolean;
}

/** What a driver needs from its engine; kept narrow so drivers are easy to test and reason about. */
export interface DriverDeps {
  store: SagaStore;
  bus: EventBus;
  registry: ActionRegistry;
  clock: Clock;
  random: () => number;
  logger: Logger;
  replicaId: string;
  limiter: ConcurrencyLimiter;
  observer: EngineObserver;
  circuits: CircuitBreakers;
  /** True for an action no executor in this process runs: its attempts are task rows for workers. */
  isWorkerAction(action: string): boolean;
  /** The engine's one result path (Engine.applyResult), which local attempts report through too. */
  recordResult(sagaId: string, input: SagaInput): Promise<unknown>;
  /** Told of every commit, with the tasks it opened (the dispatcher offers them at once). */
  tasks: TaskListener;
  /** Called once when the driver stops (saga resting, lease lost, or shutdown). */
  onStop(id: string): void;
}

/**
 * Drives one saga while this replica holds its lease. All transitions of the saga go through one
 * serial queue, so decisions are made on the latest committed state; every commit is fenced on the
 * saga's sequence and our lease. When a commit loses the race (an operator on another replica moved
 * the saga), the driver reloads and decides the same input again.
 */
export class SagaDriver {
  private readonly attempts = new Map<string, RunningAttempt>();
  /** Resolve once an attempt's result is committed (or dropped); shutdown waits for them. */
  private readonly recorded = new Set<Promise<void>>();
  private draining = false;
  private readonly timers = new Map<string, { at: number; cancel: () => void }>();
  /** Steps whose attempt a breaker deferred (this driver committed it), by the circuit they wait for. */
  private readonly deferredOn = new Map<string, string>();
  /** Steps registered with their breaker instead of a timer, with the function that withdraws them. */
  private readonly waits = new Map<string, () => void>();
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private readonly log: Logger;

  constructor(
    private state: SagaState,
    private readonly deps: DriverDeps,
  ) {
    this.log = deps.logger.child({ saga_id: state.id, saga_name: state.name });
  }

  get id(): string {
    return this.state.id;
  }

  get name(): string {
    return this.state.name;
  }

  /** The saga as this driver last committed or loaded it. */
  get current(): SagaState {
    return this.state;
  }

  /** Serialises `input` behind earlier ones; resolves with the saga as committed after it. */
  async submit(input: SagaInput, actor = "engine", tokenName: string | null = null): Promise<SagaState> {
    return (await this.enqueue(input, actor, tokenName, null)).state;
  }

  /**
   * A worker's result (or the sweep's verdict on a task): as submit, recording `recorded` on the
   * task row in the same commit. False when the result no longer applied (the step moved on).
   */
  async submitResult(input: SagaInput, recorded: RecordedResult | null): Promise<boolean> {
    return (await this.enqueue(input, "worker", null, recorded)).applied;
  }

  private enqueue(input: SagaInput, actor: string, tokenName: string | null, recorded: RecordedResult | null): Promise<Applied> {
    const run = this.queue.then(() => this.apply(input, actor, tokenName, recorded));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Starts executing what the current state asks for (after create, claim or reload). */
  kick(): void {
    this.reconcile();
  }

  /**
   * A commit was announced (NOTIFY): after whatever this driver is committing, reload if we are
   * still behind (another replica committed) and act on it. Watchers learn of local commits from
   * the driver itself, with the events, so the echo of our own commit costs them nothing. False
   * once stopped: the caller must wake watchers itself.
   */
  refresh(sequence: number): boolean {
    if (this.stopped) return false;
    if (sequence <= this.state.sequence) return true;
    this.queue = this.queue
      .then(async () => {
        if (this.stopped || sequence <= this.state.sequence) return;
        await this.reload();
        this.reconcile();
      })
      .catch((err: unknown) => {
        this.log.error({ err }, "reload after notification failed");
        this.deps.bus.publish(this.state.id, sequence);
      });
    return true;
  }

  /** Stops without committing anything: the saga rests, the lease is gone, or the replica is shutting down. */
  abandon(cause: AbortCause): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const attempt of this.attempts.values()) attempt.abort(cause);
    this.attempts.clear();
    for (const timer of this.timers.values()) timer.cancel();
    this.timers.clear();
    for (const withdraw of this.waits.values()) withdraw();
    this.waits.clear();
    this.deps.onStop(this.state.id);
  }

  /**
   * Shutdown: start nothing new, and return what the attempts in flight still have to do (finish
   * and commit their results). Steps a result made runnable stay RUNNING in Postgres and are run
   * by whichever replica takes the saga next.
   */
  drain(): Promise<unknown>[] {
    this.draining = true;
    return [...this.recorded];
  }

  private async apply(input: SagaInput, actor: string, tokenName: string | null, recorded: RecordedResult | null): Promise<Applied> {
    if (this.stopped) throw new Error("saga driver stopped");
    let reloaded = false;
    try {
      return await this.decideAndCommit(input, actor, tokenName, recorded, () => (reloaded = true));
    } finally {
      // Whatever happened after a reload (no-op decision, refused operation, lost lease), the
      // world must match the state we now hold, or steps RUNNING in Postgres would never run.
      if (reloaded) this.reconcile();
    }
  }

  private async decideAndCommit(
    input: SagaInput,
    actor: string,
    tokenName: string | null,
    recorded: RecordedResult | null,
    onReload: () => void,
  ): Promise<Applied> {
    for (;;) {
      const before = this.state;
      const env = { now: this.deps.clock.now(), random: this.deps.random, actor, tokenName, isWorkerAction: this.deps.isWorkerAction };
      const decision = decide(before, input, env);
      if (decision.events.length === 0) return { state: before, applied: false };
      const resting = RESTING_SAGA_STATUSES.has(decision.state.status);
      const lease = { kind: "owner", owner: this.deps.replicaId, release: resting } as const;
      const { result, tasks } = await commitAssigned(
        this.deps.tasks,
        before.id,
        taskWrites(before, decision.state, decision.changedSteps, this.deps.isWorkerAction, recorded),
        (assigned) => withTransientRetry(this.log, () => this.deps.store.commit(before, decision.state, decision.changedSteps, decision.events, lease, assigned)),
        (r) => r.ok,
      );
      if (result.ok) {
        this.state = decision.state;
        if ((input.type === "stepDeferred" || input.type === "compensationDeferred") && decision.events.some((e) => e.type === "STEP_DEFERRED")) {
          this.deferredOn.set(input.step, input.circuit);
        }
        this.deps.observer.committed(this.state, decision.events);
        this.logEvents(decision.events, actor);
        if (resting) this.log.info({ status: this.state.status, error: this.state.error }, "saga is resting");
        this.deps.bus.publish(this.state.id, this.state.sequence, decision.events);
        this.deps.tasks.committed(this.state, tasks);
        this.reconcile();
        return { state: this.state, applied: true };
      }
      await this.reload();
      onReload();
      if (this.stopped) throw new Error("saga lease lost");
    }
  }

  /** Failures for good are news (warn); the rest of the history is there at debug. */
  private logEvents(events: readonly SagaEvent[], actor: string): void {
    for (const event of events) {
      const failed = event.type === "STEP_FAILED" || event.type === "COMPENSATION_FAILED";
      if (!failed && !this.log.isLevelEnabled("debug")) continue;
      const fields = { step: event.step, attempt: event.attempt, sequence: event.sequence, event: event.type, actor };
      if (failed) this.log.warn({ ...fields, error: event.error, error_kind: event.errorKind }, event.message);
      else this.log.debug(fields, event.message);
    }
  }

  private async reload(): Promise<void> {
    const loaded = await withTransientRetry(this.log, () => this.deps.store.loadSaga(this.state.id));
    // What changed was committed elsewhere (or deleted): watchers read it from Postgres.
    this.deps.bus.publish(this.state.id, loaded ? loaded.state.sequence : this.state.sequence + 1);
    if (!loaded) {
      this.log.warn("saga was deleted while driven");
      this.abandon("STALE");
    } else if (RESTING_SAGA_STATUSES.has(loaded.state.status)) {
      this.state = loaded.state; // an operator elsewhere put it to rest; reconcile stops the driver
    } else if (loaded.leaseOwner !== this.deps.replicaId) {
      this.log.warn("lease lost; another replica drives this saga now");
      this.abandon("STALE");
    } else {
      this.state = loaded.state;
    }
  }

  /**
   * Makes the world match the state: launch attempts for RUNNING steps and in-flight
   * compensations, set timers for scheduled retries, abort what the state no longer wants.
   */
  private reconcile(): void {
    if (this.stopped) return;
    const saga = this.state;
    if (RESTING_SAGA_STATUSES.has(saga.status)) {
      // Nothing of a resting saga runs; any attempt still registered has already settled.
      this.abandon("STALE");
      return;
    }
    const wanted = new Set<string>();
    const wantedTimers = new Set<string>();
    const wantedWaits = new Set<string>();
    for (const step of saga.steps) {
      const phase = attemptInFlight(step);
      // A worker action's attempt is its task row: workers run it and report through the result path.
      if (phase && this.deps.isWorkerAction(actionOf(step, phase))) continue;
      if (phase) {
        const key = `${step.name}#${phase}#${step.attempt}`;
        wanted.add(key);
        if (!this.attempts.has(key) && !this.draining) this.launch(key, step.name, phase);
      } else if (this.waitsForCircuit(step)) {
        wantedWaits.add(step.name);
        if (!this.waits.has(step.name)) this.waitForCircuit(step.name, this.deferredOn.get(step.name)!);
      } else if (step.nextAttemptAt !== null && (step.status === "RETRY_SCHEDULED" || compensationRetryScheduled(step))) {
        const key = step.name;
        wantedTimers.add(key);
        const existing = this.timers.get(key);
        if (!existing || existing.at !== step.nextAttemptAt) {
          existing?.cancel();
          const cancel = this.deps.clock.setTimer(step.nextAttemptAt - this.deps.clock.now(), () => {
            this.timers.delete(key);
            this.submit({ type: "retryDue", step: step.name }).catch((err: unknown) => this.onSubmitError(err));
          });
          this.timers.set(key, { at: step.nextAttemptAt, cancel });
        }
      }
    }
    for (const [key, attempt] of this.attempts) {
      if (!wanted.has(key)) {
        attempt.abort("STALE");
        this.attempts.delete(key);
      } else if (saga.status === "CANCELLING" && attempt.phase === "action") {
        attempt.abort("CANCELLED");
      }
    }
    for (const [key, timer] of this.timers) {
      if (!wantedTimers.has(key)) {
        timer.cancel();
        this.timers.delete(key);
      }
    }
    for (const [name, withdraw] of this.waits) {
      if (!wantedWaits.has(name)) {
        withdraw();
        this.waits.delete(name);
      }
    }
    for (const name of this.deferredOn.keys()) {
      if (!wantedWaits.has(name)) this.deferredOn.delete(name);
    }
  }

  /**
   * A step this driver deferred for a breaker waits on the breaker, not on a timer: the breaker
   * wakes one step as its probe, then the rest gradually. Its durable next attempt time is the
   * probe time, so a replica that takes the saga over (and knows nothing of this breaker) simply
   * tries again then.
   */
  private waitsForCircuit(step: StepState): boolean {
    return (
      this.deferredOn.has(step.name) &&
      step.errorKind === CIRCUIT_OPEN &&
      (step.status === "RETRY_SCHEDULED" || compensationRetryScheduled(step))
    );
  }

  private waitForCircuit(name: string, circuit: string): void {
    const withdraw = this.deps.circuits.wait(circuit, (why) => {
      if (this.waits.get(name) !== withdraw) return;
      this.waits.delete(name);
      this.submit({ type: "retryDue", step: name, why }).catch((err: unknown) => this.onSubmitError(err));
    });
    this.waits.set(name, withdraw);
  }

  private launch(key: string, stepName: string, phase: "action" | "compensate"): void {
    const step = this.state.steps.find((s) => s.name === stepName)!;
    const attempt = runAttempt({ ...this.deps, logger: this.log }, this.state, step, phase);
    this.attempts.set(key, attempt);
    if (this.state.status === "CANCELLING" && phase === "action") attempt.abort("CANCELLED");
    // The attempt stays registered until its result is committed: otherwise a reconcile triggered
    // by another step's commit in between would see the step still RUNNING and launch it again.
    const forget = () => {
      if (this.attempts.get(key) === attempt) this.attempts.delete(key);
    };
    const recorded: Promise<void> = attempt.done
      .then(async (input) => {
        if (input === null || this.stopped) return;
        // The one result path, as for a worker's report: here it finds this driver and queues behind it.
        await this.deps.recordResult(this.state.id, input).catch((err: unknown) => this.onSubmitError(err));
      })
      .finally(() => {
        forget();
        this.recorded.delete(recorded);
      });
    this.recorded.add(recorded);
  }

  private onSubmitError(err: unknown): void {
    if (this.stopped) return;
    this.log.error({ err }, "could not record a step result; the saga will be recovered after its lease expires");
    this.abandon("STALE");
  }
}
