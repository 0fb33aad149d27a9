import type { Logger } from "pino";
import type { ActionRegistry } from "../actions/registry.js";
import type { Clock } from "../domain/clock.js";
import { actionOf, attemptInFlight } from "../domain/attempt-phase.js";
import { DefinitionChangedError, DomainError, notFound } from "../domain/errors.js";
import { newSaga } from "../domain/new-saga.js";
import { decide, type SagaInput } from "../domain/state-machine.js";
import { taskWrites, type RecordedResult } from "../domain/task-writes.js";
import { assertOperationAllowed, type Operation } from "../domain/transitions.js";
import { RESTING_SAGA_STATUSES, type SagaState } from "../domain/types.js";
import type { ValidatedSaga } from "../domain/validate-saga.js";
import type { SagaStore } from "../store/saga-store.js";
import { CircuitBreakers, type BreakerSettings } from "./circuit-breakers.js";
import { NO_OBSERVER, type EngineObserver } from "./engine-observer.js";
import type { EventBus } from "./event-bus.js";
import { SagaDriver } from "./saga-driver.js";
import { requestHash, sagaIdFor } from "./saga-identity.js";
import { ConcurrencyLimiter } from "./concurrency-limiter.js";
import { LeaseKeeper } from "./lease-keeper.js";
import { commitAssigned, NO_TASK_LISTENER, type TaskListener } from "./task-listener.js";


export interface EngineOptions {
  store: SagaStore;
  bus: EventBus;
  registry: ActionRegistry;
  clock: Clock;
  logger: Logger;
  replicaId: string;
  leaseTtlMs: number;
  pollIntervalMs: number;
  /** Most actions running at once on this replica. */
  maxConcurrentSteps: number;
  random?: () => number;
  /** Told about commits and attempts (metrics); nobody by default. */
  observer?: EngineObserver;
  /** Circuit breaker thresholds; absent or `failures: 0`: no breakers. */
  breaker?: BreakerSettings;
}

/**
 * The executor of one replica: creates sagas, applies operator operations, and drives the sagas it
 * holds leases for. Every state change is committed before anyone is told about it; what is only in
 * memory here (timers, running attempts) can be rebuilt from Postgres by any replica.
 */
export class Engine {
  private readonly drivers = new Map<string, SagaDriver>();
  private readonly leases: LeaseKeeper<SagaDriver>;
  private readonly limiter: ConcurrencyLimiter;
  private readonly observer: EngineObserver;
  /** Drivers whose takeover was recorded (STEP_RECOVERED). */
  private readonly recovered = new WeakSet<SagaDriver>();
  /** This replica's circuit breakers, for ListCircuits and the metrics. */
  readonly circuits: CircuitBreakers;
  private stopping = false;
  /** Lease releases of sagas committed while stopping; the pool must outlive them. */
  private readonly releasing = new Set<Promise<void>>();
  private tasks: TaskListener = NO_TASK_LISTENER;
  /** An action nothing in this process runs is a worker action: its attempts are task rows. */
  readonly isWorkerAction = (action: string): boolean => !this.opts.registry.has(action);

  constructor(private readonly opts: EngineOptions) {
    this.limiter = new ConcurrencyLimiter(opts.maxConcurrentSteps);
    this.observer = opts.observer ?? NO_OBSERVER;
    this.circuits = new CircuitBreakers({ settings: opts.breaker, clock: opts.clock, logger: opts.logger });
    this.leases = new LeaseKeeper({
      store: opts.store,
      clock: opts.clock,
      logger: opts.logger,
      replicaId: opts.replicaId,
      leaseTtlMs: opts.leaseTtlMs,
      pollIntervalMs: opts.pollIntervalMs,
      held: () => this.drivers,
      onLost: (id, driver) => {
        if (this.drivers.get(id) !== driver) return;
        opts.logger.warn({ saga_id: id, saga_name: driver.name }, "lease lost; another replica may drive the saga now");
        driver.abandon("STALE");
      },
      // Backstop: whatever a driver may have missed, its timers and attempts match its state again.
      onKept: (_id, driver) => driver.kick(),
      onClaimed: (id) => this.adopt(id),
    });
  }

  start(): void {
    this.leases.start();
  }

  /** Wires the worker dispatcher in (the composition root makes it after the engine). */
  setTaskListener(listener: TaskListener): void {
    this.tasks = listener;
  }

  /** The name of this replica in leases, logs and ListCircuits. */
  get replicaId(): string {
    return this.opts.replicaId;
  }

  /** Sagas this replica is driving right now. */
  activeSagaCount(): number {
    return this.drivers.size;
  }

  /**
   * Creates the saga and starts its first steps in one commit, then runs them here at once (the
   * fast path). A repeated request id returns the existing saga, or ALREADY_EXISTS if the request
   * differs. DefinitionChangedError (ABORTED) if the draft's definition guard no longer holds.
   */
  async create(draft: ValidatedSaga, tokenName: string | null = null): Promise<SagaState> {
    const actor = "CreateSaga";
    this.assertRunning();
    const id = sagaIdFor(draft.requestId);
    const hash = draft.requestId === null ? null : requestHash(draft.requestFingerprint ?? draft);
    const now = this.opts.clock.now();
    const { state, created } = newSaga(id, draft, now, actor, tokenName);
    const decision = decide(state, { type: "advance" }, this.env(actor, tokenName));
    const events = [created, ...decision.events];
    const lease = { owner: this.opts.replicaId, until: now + this.opts.leaseTtlMs };
    const { result: outcome, tasks } = await commitAssigned(
      this.tasks,
      id,
      taskWrites(state, decision.state, decision.changedSteps, this.isWorkerAction),
      (assigned) => this.opts.store.insertSaga(decision.state, events, hash, lease, draft.definitionGuard ?? null, assigned),
      (result) => result === "created",
    );
    if (outcome === "definition-changed") throw new DefinitionChangedError(draft.definitionRef!.name, draft.definitionRef!.version);
    if (outcome === "exists") return this.existingForRequest(id, hash!);
    this.observer.committed(decision.state, events);
    this.opts.logger.info({ saga_id: id, saga_name: draft.name, steps: draft.steps.length, token: tokenName }, "saga created");
    this.opts.bus.publish(id, decision.state.sequence, events);
    this.tasks.committed(decision.state, tasks);
    this.startDriver(decision.state, true);
    return decision.state;
  }

  /** Loads the saga (the committed truth, wherever it is driven). */
  async get(id: string): Promise<SagaState> {
    const loaded = await this.opts.store.loadSaga(id);
    if (!loaded) throw notFound("saga", id);
    return loaded.state;
  }

  /**
   * Applies an operator operation and commits it before returning the saga as it now is. If this
   * replica drives the saga the input joins its queue; otherwise it is decided on the stored state
   * (fenced on its sequence) and, when the saga needs driving and nobody holds it, this replica
   * takes the lease and drives it. The replica holding a lease learns of the change through
   * LISTEN/NOTIFY.
   */
  async operate(id: string, input: SagaInput, actor: string, tokenName: string | null = null): Promise<SagaState> {
    this.assertRunning();
    const local = this.drivers.get(id);
    if (local) {
      try {
        return await local.submit(input, actor, tokenName);
      } catch (err) {
        if (err instanceof DomainError) throw err;
        // The driver stopped under us (lease lost): fall through to the stored state.
      }
    }
    return (await this.decideStored(id, input, actor, tokenName, null)).state;
  }

  /**
   * The one result path for task rows: a worker's report (from any replica) or a sweep's verdict
   * (timeout, lost worker), applied like an operation: by the local driver if this replica drives
   * the saga, else on the stored state fenced on its sequence. `recorded` goes on the task row in
   * the same commit. False when it no longer applied (the step moved on first).
   */
  async applyResult(id: string, input: SagaInput, recorded: RecordedResult | null): Promise<boolean> {
    const local = this.drivers.get(id);
    if (local) {
      try {
        return await local.submitResult(input, recorded);
      } catch (err) {
        if (err instanceof DomainError) throw err;
      }
    }
    return (await this.decideStored(id, input, "worker", null, recorded)).applied;
  }

  /**
   * Decides `input` on the stored state and commits it fenced on the saga's sequence; when the
   * saga needs driving and nobody holds it, this replica takes the lease and drives it.
   */
  private async decideStored(
    id: string,
    input: SagaInput,
    actor: string,
    tokenName: string | null,
    recorded: RecordedResult | null,
  ): Promise<{ state: SagaState; applied: boolean }> {
    for (let tries = 0; tries < 20; tries++) {
      const loaded = await this.opts.store.loadSaga(id);
      if (!loaded) throw notFound("saga", id);
      const decision = decide(loaded.state, input, this.env(actor, tokenName));
      if (decision.events.length === 0) return { state: loaded.state, applied: false };
      const needsDriving = !RESTING_SAGA_STATUSES.has(decision.state.status);
      const now = this.opts.clock.now();
      const lease = { kind: "operator", replica: this.opts.replicaId, now, until: now + this.opts.leaseTtlMs, resting: !needsDriving } as const;
      const { result, tasks } = await commitAssigned(
        this.tasks,
        id,
        taskWrites(loaded.state, decision.state, decision.changedSteps, this.isWorkerAction, recorded),
        (assigned) => this.opts.store.commit(loaded.state, decision.state, decision.changedSteps, decision.events, lease, assigned),
        (r) => r.ok,
      );
      if (!result.ok) continue;
      this.observer.committed(decision.state, decision.events);
      this.opts.bus.publish(id, decision.state.sequence, decision.events);
      this.tasks.committed(decision.state, tasks);
      if (needsDriving && result.leaseOwner === this.opts.replicaId && !this.drivers.has(id)) {
        // No driver here, so attempts in flight ran on a replica that stopped: another one, or a
        // predecessor under this same id (a restarted pod whose lease has not expired yet).
        const takenOver = this.localAttemptsInFlight(loaded.state).length > 0;
        const driver = this.startDriver(decision.state, !takenOver);
        if (driver && takenOver) void this.recover(driver);
      }
      return { state: decision.state, applied: true };
    }
    throw new DomainError("UNAVAILABLE", `saga ${id} is changing too fast; try again`);
  }

  /**
   * Steps whose attempt ran in a replica's memory when this state was committed. A worker
   * action's attempt is a task row that outlives any replica, so a takeover does not touch it.
   */
  private localAttemptsInFlight(saga: SagaState): string[] {
    return saga.steps.flatMap((step) => {
      const phase = attemptInFlight(step);
      return phase && !this.isWorkerAction(actionOf(step, phase)) ? [step.name] : [];
    });
  }

  /** Deletes a resting saga; FAILED and COMPENSATION_FAILED ones only with `force`. */
  async delete(id: string, force: boolean): Promise<void> {
    const loaded = await this.opts.store.loadSaga(id);
    if (!loaded) throw notFound("saga", id);
    const status = loaded.state.status;
    assertOperationAllowed("DeleteSaga" satisfies Operation, status);
    if (!force && (status === "FAILED" || status === "COMPENSATION_FAILED")) {
      throw new DomainError(
        "FAILED_PRECONDITION",
        `DeleteSaga needs force: saga is ${status} and its side effects may not have been undone`,
        [],
        { state: status },
      );
    }
    if (!(await this.opts.store.deleteSaga(id, loaded.state.sequence))) {
      throw new DomainError("FAILED_PRECONDITION", `saga ${id} changed while being deleted; try again`, [], { state: status });
    }
    this.opts.bus.publish(id, loaded.state.sequence + 1);
  }

  /**
   * A commit by any replica (or the echo of our own): the local driver, if any, catches up and
   * tells watchers. False when no driver here took it, so the caller wakes watchers itself.
   */
  onNotification(id: string, sequence: number): boolean {
    return this.drivers.get(id)?.refresh(sequence) ?? false;
  }

  /** Notifications may have been lost (the LISTEN connection dropped): reload every driven saga. */
  refreshAll(): void {
    for (const driver of this.drivers.values()) driver.refresh(Number.MAX_SAFE_INTEGER);
  }

  /**
   * Graceful stop: claim nothing more, let attempts in flight finish for up to `graceMs`, then
   * abort the rest without recording them (they stay RUNNING and are recovered by whoever takes
   * the saga), and release every lease so other replicas take over at once.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    await this.leases.stopPolling();
    const inFlight = [...this.drivers.values()].flatMap((d) => d.drain());
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(inFlight),
      new Promise((resolve) => (timer = setTimeout(resolve, graceMs))),
    ]);
    clearTimeout(timer);
    const ids = [...this.drivers.keys()];
    for (const driver of [...this.drivers.values()]) driver.abandon("SHUTDOWN");
    this.circuits.close();
    await this.leases.stop();
    await this.release(ids);
  }

  /** Waits for lease releases of calls that were still committing during stop(); call before closing the pool. */
  async settled(): Promise<void> {
    await Promise.all(this.releasing);
  }

  private async release(ids: string[]): Promise<void> {
    await this.opts.store.releaseLeases(this.opts.replicaId, ids).catch((err: unknown) => {
      this.opts.logger.warn({ err, saga_ids: ids }, "could not release leases; they will expire");
    });
  }

  private async existingForRequest(id: string, hash: string): Promise<SagaState> {
    const loaded = await this.opts.store.loadSaga(id);
    if (!loaded) throw new DomainError("UNAVAILABLE", `saga ${id} is being created concurrently; try again`);
    if (loaded.requestHash !== hash) {
      throw new DomainError(
        "ALREADY_EXISTS",
        `request_id ${JSON.stringify(loaded.state.requestId)} was already used for a different request (saga ${id})`,
        [{ field: "request_id", description: "already used with a different request body" }],
        { id },
      );
    }
    return loaded.state;
  }

  private async adopt(id: string): Promise<void> {
    if (this.drivers.has(id)) return;
    const loaded = await this.opts.store.loadSaga(id);
    if (!loaded || loaded.leaseOwner !== this.opts.replicaId) return;
    // An operator call on this replica may have started a driver while we loaded: it found the
    // lease already ours, so the recovery of the attempts left in flight is still ours to record.
    const driver = this.drivers.get(id) ?? this.startDriver(loaded.state, false);
    if (!driver) return;
    this.opts.logger.info({ saga_id: id, saga_name: loaded.state.name }, "took over saga");
    await this.recover(driver);
  }

  /** Records STEP_RECOVERED for attempts a stopped replica left in flight, then runs them again. */
  private async recover(driver: SagaDriver): Promise<void> {
    // A takeover is recorded once, whether the claim poll or an operator call got there first.
    if (this.recovered.has(driver)) return driver.kick();
    this.recovered.add(driver);
    try {
      await driver.submit({ type: "recover", steps: this.localAttemptsInFlight(driver.current) });
    } catch (err) {
      this.opts.logger.error({ err, saga_id: driver.id, saga_name: driver.name }, "recovery failed");
    }
    driver.kick();
  }

  /**
   * Starts driving a saga whose lease this replica holds. At most one driver per saga; during
   * shutdown (a create or operation that was already committing) the lease is released instead,
   * so another replica takes the saga at once.
   */
  private startDriver(state: SagaState, kick: boolean): SagaDriver | null {
    const existing = this.drivers.get(state.id);
    if (existing) return existing;
    if (this.stopping) {
      const release = this.release([state.id]).finally(() => this.releasing.delete(release));
      this.releasing.add(release);
      return null;
    }
    const driver = new SagaDriver(state, {
      store: this.opts.store,
      bus: this.opts.bus,
      registry: this.opts.registry,
      clock: this.opts.clock,
      random: this.opts.random ?? Math.random,
      logger: this.opts.logger,
      replicaId: this.opts.replicaId,
      limiter: this.limiter,
      observer: this.observer,
      circuits: this.circuits,
      isWorkerAction: this.isWorkerAction,
      recordResult: (sagaId, input) => this.applyResult(sagaId, input, null),
      tasks: {
        assign: (sagaId, tasks) => this.tasks.assign(sagaId, tasks),
        committed: (saga, tasks) => this.tasks.committed(saga, tasks),
        abandoned: (sagaId, tasks) => this.tasks.abandoned(sagaId, tasks),
      },
      onStop: (id) => {
        if (this.drivers.get(id) === driver) this.drivers.delete(id);
      },
    });
    this.drivers.set(state.id, driver);
    if (kick) driver.kick();
    return driver;
  }

  private env(actor: string, tokenName: string | null) {
    return { now: this.opts.clock.now(), random: this.opts.random ?? Math.random, actor, tokenName, isWorkerAction: this.isWorkerAction };
  }

  private assertRunning(): void {
    if (this.stopping) throw new DomainError("UNAVAILABLE", "sagad is shutting down");
  }
}
