import { pino } from "pino";
import type { ActionContext } from "../../src/actions/action.js";
import type { JsonObject } from "../../src/domain/types.js";

/** A context for one action attempt; override what the test cares about. */
export function makeContext(config: JsonObject, overrides: Partial<ActionContext> = {}): ActionContext {
  return {
    sagaId: "saga-1",
    sagaName: "order",
    step: "charge",
    phase: "action",
    attempt: 1,
    idempotencyKey: "saga-1/charge",
    config,
    vars: {},
    outputs: {},
    signal: new AbortController().signal,
    logger: pino({ level: "silent" }),
    ...overrides,
  };
}
