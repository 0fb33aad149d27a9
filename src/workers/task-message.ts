import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { actionOf, idempotencyKey } from "../domain/attempt-phase.js";
import { sagaOutputs } from "../domain/outputs.js";
import { renderTemplates } from "../domain/templates.js";
import type { JsonObject, SagaState } from "../domain/types.js";
import { TaskPhase, TaskSchema, type Task } from "../gen/saga/v1/worker_pb.js";
import type { TaskRef } from "../store/task-store.js";

export interface TaskLimits {
  timeoutMs: number;
  heartbeatMs: number;
}

/**
 * The Task a worker receives for an offered attempt: the rendered config and what an embedded
 * action's context holds (vars, upstream outputs, attempt, idempotency key). Throws the
 * templates' DomainError when the config cannot be rendered.
 */
export function taskMessage(
  saga: SagaState,
  ref: TaskRef,
  token: string,
  ackDeadline: number,
  limits: TaskLimits,
  lastProgress: JsonObject | null,
): Task {
  const step = saga.steps[ref.stepIdx]!;
  const config = ref.phase === "action" ? step.config : step.compensate!.config;
  const outputs = sagaOutputs(saga);
  const rendered = renderTemplates(config, { vars: saga.vars, outputs, saga: { id: saga.id, name: saga.name } });
  return create(TaskSchema, {
    token,
    sagaId: saga.id,
    sagaName: saga.name,
    step: step.name,
    phase: ref.phase === "action" ? TaskPhase.ACTION : TaskPhase.COMPENSATION,
    action: actionOf(step, ref.phase),
    config: rendered,
    vars: { ...saga.vars },
    outputs,
    attempt: ref.attempt,
    delivery: ref.delivery,
    idempotencyKey: idempotencyKey(saga.id, step.name, ref.phase),
    ackDeadline: timestampFromMs(ackDeadline),
    timeout: limits.timeoutMs > 0 ? durationFromMs(limits.timeoutMs) : undefined,
    heartbeatTimeout: limits.heartbeatMs > 0 ? durationFromMs(limits.heartbeatMs) : undefined,
    lastProgress: lastProgress ?? undefined,
  });
}
