import type { StepSpec } from "../domain/types.js";
import type { WorkerSessionStore } from "../store/worker-session-store.js";

/** How long the set of actions live workers serve is reused before it is read again. */
const FRESH_MS = 1_000;

/**
 * CreateSaga's warning for worker actions nobody serves right now: the saga is accepted (a worker
 * may connect later), but a typo in an action name would otherwise wait in silence. The set is
 * read at most once a second per replica, so creating sagas costs no query per call.
 */
export class ServedActions {
  private cached: { at: number; actions: Promise<Set<string>> } | null = null;

  constructor(
    private readonly sessions: WorkerSessionStore,
    private readonly isWorkerAction: (action: string) => boolean,
    private readonly now: () => number,
  ) {}

  async warnings(steps: readonly StepSpec[]): Promise<string[]> {
    const wanted: { field: string; action: string }[] = [];
    steps.forEach((step, i) => {
      if (this.isWorkerAction(step.action)) wanted.push({ field: `steps[${i}].action`, action: step.action });
      if (step.compensate && this.isWorkerAction(step.compensate.action)) wanted.push({ field: `steps[${i}].compensate.action`, action: step.compensate.action });
    });
    if (wanted.length === 0) return [];
    const served = await this.served();
    return wanted
      .filter((w) => !served.has(w.action))
      .map((w) => `${w.field}: no worker serves ${JSON.stringify(w.action)} right now; the step waits for one (retry_policy.schedule_to_start_timeout bounds the wait)`);
  }

  private served(): Promise<Set<string>> {
    const now = this.now();
    if (this.cached === null || now - this.cached.at > FRESH_MS) {
      const actions = this.sessions.servedActions(now);
      this.cached = { at: now, actions };
      actions.catch(() => (this.cached = null));
    }
    return this.cached.actions;
  }
}
