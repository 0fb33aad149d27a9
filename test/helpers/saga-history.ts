import { timestampMs } from "@bufbuild/protobuf/wkt";
import { EventType, SagaStatus, type SagaClient, type SagaEvent } from "../../src/client/index.js";
import type { RecordedCall } from "./test-actions.js";

/**
 * The whole history of a resting saga, read through WatchSaga from sequence 0 (the stream ends by
 * itself once the saga rests). Gives up after `timeoutMs` so a stuck stream fails the test.
 */
export async function sagaHistory(client: SagaClient, id: string, timeoutMs = 10_000): Promise<SagaEvent[]> {
  const events: SagaEvent[] = [];
  for await (const msg of client.watchSaga({ id, afterSequence: 0n }, { signal: AbortSignal.timeout(timeoutMs) })) {
    if (msg.kind.case === "event") events.push(msg.kind.value);
  }
  return events;
}

/** Events of one type (and optionally one step), in order. */
export function eventsOfType(events: SagaEvent[], type: EventType, step?: string): SagaEvent[] {
  return events.filter((e) => e.type === type && (step === undefined || e.step === step));
}

/** The saga statuses the history passed through, from SAGA_STATUS_CHANGED events, by name. */
export function sagaStatusPath(events: SagaEvent[]): string[] {
  return eventsOfType(events, EventType.SAGA_STATUS_CHANGED).map((e) => SagaStatus[e.sagaStatus]);
}

/** Epoch milliseconds of an event's time (0 when unset). */
export function eventTimeMs(event: SagaEvent): number {
  return event.time ? timestampMs(event.time) : 0;
}

/** Epoch milliseconds of an event's next_attempt_time (NaN when unset, so comparisons fail). */
export function nextAttemptMs(event: SagaEvent): number {
  return event.nextAttemptTime ? timestampMs(event.nextAttemptTime) : Number.NaN;
}

/** Calls of one saga's step (and phase), in start order: test actions share one log per server. */
export function callsFor(calls: RecordedCall[], sagaId: string, step: string, phase: RecordedCall["phase"] = "action"): RecordedCall[] {
  return calls.filter((c) => c.sagaId === sagaId && c.step === step && c.phase === phase);
}

/** How long two recorded calls ran at the same time (ms; <= 0 means they did not overlap). */
export function overlapMs(a: RecordedCall, b: RecordedCall): number {
  if (a.endedAt === null || b.endedAt === null) throw new Error("overlapMs: both calls must have ended");
  return Math.min(a.endedAt, b.endedAt) - Math.max(a.startedAt, b.startedAt);
}
