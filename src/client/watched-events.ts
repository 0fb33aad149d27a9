import type { SagaEvent, WatchSagaResponse } from "../gen/saga/v1/saga_pb.js";

/**
 * The events one WatchSaga message carries, whichever framing the stream was asked for (one per
 * message, or batches with `batch_events`); none for a snapshot. Lets a caller switch framings
 * without touching the code that reads the stream.
 */
export function watchedEvents(message: WatchSagaResponse): SagaEvent[] {
  switch (message.kind.case) {
    case "event":
      return [message.kind.value];
    case "events":
      return message.kind.value.events;
    default:
      return [];
  }
}
