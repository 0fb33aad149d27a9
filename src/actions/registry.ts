import type { Action } from "./action.js";
import { createHttpAction, type HttpActionOptions } from "./http.js";
import { noopAction } from "./noop.js";
import { sleepAction } from "./sleep.js";

const ACTION_NAME = /^[a-z][a-z0-9_.-]*$/;

/**
 * The actions a replica can run, by name. Saga definitions are validated against it at create
 * time, so a step never reaches the engine with an unknown action. Names are unique: registering
 * a second action under a taken name throws instead of silently replacing the first.
 */
export class ActionRegistry {
  readonly #actions = new Map<string, Action>();

  /** Adds `action`; throws on an invalid or duplicate name. Returns the registry for chaining. */
  register(action: Action): this {
    if (!ACTION_NAME.test(action.name)) {
      throw new Error(`invalid action name ${JSON.stringify(action.name)}: must match ${ACTION_NAME.source}`);
    }
    if (this.#actions.has(action.name)) {
      throw new Error(`action ${JSON.stringify(action.name)} is already registered`);
    }
    this.#actions.set(action.name, action);
    return this;
  }

  get(name: string): Action | undefined {
    return this.#actions.get(name);
  }

  has(name: string): boolean {
    return this.#actions.has(name);
  }

  /** Registered names, sorted, for error messages and listings. */
  names(): string[] {
    return [...this.#actions.keys()].sort();
  }
}

/**
 * The built-ins (`noop`, `sleep`, `http`) plus `extra`. An extra cannot shadow a built-in: that
 * throws, like any duplicate. `options` configures the http action (e.g. the replica header).
 */
export function createDefaultRegistry(extra: Action[] = [], options?: HttpActionOptions): ActionRegistry {
  const registry = new ActionRegistry()
    .register(noopAction)
    .register(sleepAction)
    .register(createHttpAction(options));
  for (const action of extra) registry.register(action);
  return registry;
}
