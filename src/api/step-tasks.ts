import type { SagaState } from "../domain/types.js";
import type { TaskStore } from "../store/task-store.js";
import type { StepTask } from "./convert.js";

/**
 * Where the tasks of a saga's worker steps are (queued, offered, running), for GetSaga and the
 * WatchSaga snapshot. Only asked when some step is in flight, so most reads cost nothing more.
 */
export async function stepTasksOf(tasks: TaskStore, saga: SagaState): Promise<Map<number, StepTask>> {
  const found = new Map<number, StepTask>();
  if (!saga.steps.some((s) => s.status === "RUNNING" || s.status === "COMPENSATING")) return found;
  for (const t of await tasks.openTasksOf(saga.id)) {
    if (t.state !== "done") found.set(t.stepIdx, { phase: t.phase, attempt: t.attempt, state: t.state, worker: t.worker, requeues: t.requeues });
  }
  return found;
}
