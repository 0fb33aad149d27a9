import type { JsonObject } from "../domain/types.js";
import type { Action, ActionContext } from "./action.js";

/**
 * Succeeds at once with its rendered config as output: a placeholder step, a compensation that
 * needs no work, or a way to publish computed values (templates) to later steps.
 */
export const noopAction: Action = {
  name: "noop",
  run(ctx: ActionContext): Promise<JsonObject> {
    return Promise.resolve(ctx.config);
  },
};
