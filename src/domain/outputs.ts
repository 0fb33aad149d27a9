import type { JsonObject, SagaState } from "./types.js";

/**
 * Outputs by step name: COMPLETED steps' results and SKIPPED steps' stand-ins (kept after
 * compensation too, for history). What templates and actions read, and what the API shows.
 */
export function sagaOutputs(saga: SagaState): Record<string, JsonObject> {
  const outputs: Record<string, JsonObject> = {};
  for (const step of saga.steps) if (step.output !== null) outputs[step.name] = step.output;
  return outputs;
}
