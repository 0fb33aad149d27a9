import type { SagaState } from "../domain/types.js";
import type { TaskWrites } from "../domain/task-writes.js";

/**
 * Who hears of task rows as commits write them: the worker dispatcher, which offers an opened task
 * to a worker on this replica at once (the fast path; the claim poll is the backstop), and pushes
 * cancels to the workers holding a cancelled saga's tasks. Called after every commit of this
 * replica, so it must return at once.
 */
export interface TaskListener {
  /**
   * Just before a commit: may assign opened tasks to workers on this replica with free slots (the
   * commit writes them offered), reserving the slots. Every call is followed by committed() or
   * abandoned() with what it returned.
   */
  assign(sagaId: string, tasks: TaskWrites): TaskWrites;
  committed(saga: SagaState, tasks: TaskWrites): void;
  /** The commit did not happen (fenced out, or failed): the reserved slots are free again. */
  abandoned(sagaId: string, tasks: TaskWrites): void;
}

/** For an engine with no workers layer (tests, tools). */
export const NO_TASK_LISTENER: TaskListener = { assign: (_id, tasks) => tasks, committed: () => undefined, abandoned: () => undefined };

/**
 * Runs `commit` with the tasks as the listener assigns them, and tells the listener how it went:
 * committed() is the caller's to call (after its own bookkeeping), abandoned() is called here when
 * the commit throws or `ok` says it was fenced out. Returns the result and the assigned writes.
 */
export async function commitAssigned<T>(
  listener: TaskListener,
  sagaId: string,
  tasks: TaskWrites,
  commit: (assigned: TaskWrites) => Promise<T>,
  ok: (result: T) => boolean,
): Promise<{ result: T; tasks: TaskWrites }> {
  const assigned = tasks.open.length === 0 ? tasks : listener.assign(sagaId, tasks);
  let result: T;
  try {
    result = await commit(assigned);
  } catch (err) {
    if (assigned !== tasks) listener.abandoned(sagaId, assigned);
    throw err;
  }
  if (!ok(result) && assigned !== tasks) listener.abandoned(sagaId, assigned);
  return { result, tasks: assigned };
}
