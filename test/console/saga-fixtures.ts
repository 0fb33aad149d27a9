import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  EventType,
  SagaEventSchema,
  SagaSchema,
  SagaStatus,
  StepStatus,
  type Saga,
  type SagaEvent,
} from "../../src/gen/saga/v1/saga_pb.js";

/** Fields of one event, with times as milliseconds from T0 (the tests read easier that way). */
export interface EventInit {
  type: EventType;
  at: number;
  step?: string;
  stepStatus?: StepStatus;
  sagaStatus?: SagaStatus;
  attempt?: number;
  error?: string;
  errorKind?: string;
  nextAt?: number;
  message?: string;
  actor?: string;
  tokenName?: string;
  reason?: string;
  output?: Record<string, unknown>;
}

export const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);

/** A history with gap-free sequences from 1, in the order given. */
export function history(inits: readonly EventInit[]): SagaEvent[] {
  return inits.map((init, i) =>
    create(SagaEventSchema, {
      sequence: BigInt(i + 1),
      type: init.type,
      time: timestampFromMs(T0 + init.at),
      sagaStatus: init.sagaStatus ?? SagaStatus.RUNNING,
      step: init.step ?? "",
      stepStatus: init.stepStatus ?? StepStatus.UNSPECIFIED,
      attempt: init.attempt ?? 0,
      error: init.error ?? "",
      errorKind: init.errorKind ?? "",
      message: init.message ?? "",
      actor: init.actor ?? "engine",
      tokenName: init.tokenName ?? "",
      reason: init.reason ?? "",
      ...(init.nextAt !== undefined ? { nextAttemptTime: timestampFromMs(T0 + init.nextAt) } : {}),
      ...(init.output ? { output: init.output as never } : {}),
    }),
  );
}

/** A saga of the named steps (3 attempts each; with a compensation of 5 attempts where asked). */
export function sagaOf(status: SagaStatus, steps: readonly { name: string; status: StepStatus; compensate?: boolean }[]): Saga {
  return create(SagaSchema, {
    id: "4f1c2e9a-0000-4000-8000-000000000001",
    name: "checkout",
    status,
    createTime: timestampFromMs(T0),
    steps: steps.map((s) => ({
      name: s.name,
      status: s.status,
      action: "http",
      retryPolicy: { maxAttempts: 3 },
      ...(s.compensate ? { compensate: { action: "noop", retryPolicy: { maxAttempts: 5 } } } : {}),
    })),
  });
}
