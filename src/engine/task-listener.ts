import type { SagaState } from "../domain/types.js";
import type { TaskWrites } from "../domain/task-writes.js";

/**
 * Who hears of task rows as commits write them: the worker dispatcher, which offers an opened task
 * to a worker on this replica at once (the fast path; the claim poll is the backstop), and pushes
 * cancels to the workers holding a cancelled saga's tasks. Called after every commit of this
 * replica, so it must return at once.
 */
export interface TaskListener {
  committed(saga: SagaState, tasks: TaskWrites): void;
}

/** For an engine with no workers layer (tests, tools). */
export const NO_TASK_LISTENER: TaskListener = { committed: () => undefined };
