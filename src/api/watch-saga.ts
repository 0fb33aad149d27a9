import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { DomainError, invalidArgument, notFound } from "../domain/errors.js";
import { RESTING_SAGA_STATUSES, type SagaEvent as DomainEvent } from "../domain/types.js";
import { SagaEventBatchSchema, type WatchSagaRequest, type WatchSagaResponse } from "../gen/saga/v1/saga_pb.js";
import { eventToProto, sagaToProto } from "./convert.js";
import { stepTasksOf } from "./step-tasks.js";
import { requireSagaId } from "./request-checks.js";
import type { SagaServiceDeps } from "./saga-service.js";

/** Events read per query; a watcher far behind catches up in pages. */
const PAGE = 500;
/** Re-read even without a wake-up, so a lost notification costs at most this delay. */
const BACKSTOP_MS = 5_000;

type Message = Omit<WatchSagaResponse, "$typeName" | "$unknown">;

/**
 * WatchSaga: a snapshot (unless resuming), then every event after the cursor, in order: from the
 * bus's memory when this replica committed them, otherwise read from saga_events, so the stream
 * has no gaps or duplicates whatever the wake-ups do. Ends once
 * the saga rests and everything up to its resting event was sent (unless `follow`), when the client
 * goes away, or with UNAVAILABLE when the server shuts down. The bus subscription is always removed.
 */
export async function* watchSaga(deps: SagaServiceDeps, req: WatchSagaRequest, signal: AbortSignal): AsyncGenerator<Message> {
  const id = requireSagaId(req.id);
  if (req.afterSequence !== undefined && req.afterSequence < 0n) {
    throw invalidArgument([{ field: "after_sequence", description: "must not be negative" }]);
  }
  const send = req.batchEvents ? batched : oneByOne;
  let wake: (() => void) | null = null;
  let pending = false;
  let cursor = -1;
  // A wake-up for events already sent (our own commit's NOTIFY echo) costs no query.
  const unsubscribe = deps.bus.subscribe(id, (sequence) => {
    if (sequence <= cursor) return;
    pending = true;
    wake?.();
  });
  const stop = () => wake?.();
  signal.addEventListener("abort", stop);
  deps.shutdownSignal.addEventListener("abort", stop);
  try {
    if (req.afterSequence === undefined) {
      const snapshot = await deps.engine.get(id);
      cursor = snapshot.sequence;
      yield { kind: { case: "snapshot", value: sagaToProto(snapshot, true, await stepTasksOf(deps.tasks, snapshot)) } };
      if (RESTING_SAGA_STATUSES.has(snapshot.status) && !req.follow) {
        // The snapshot is the end state, but events may have landed since: deliver them first.
        cursor = yield* drain(deps, id, cursor, send);
        return;
      }
    } else {
      cursor = Number(req.afterSequence);
      // Events committed by this replica prove the saga exists and reaches at least the cursor.
      const head = deps.bus.eventsAfter(id, cursor) !== null ? { sequence: cursor } : await deps.store.sagaHead(id);
      if (!head) throw notFound("saga", id);
      if (cursor > head.sequence) {
        throw new DomainError(
          "OUT_OF_RANGE",
          `after_sequence ${cursor} is beyond the saga's latest event ${head.sequence}`,
          [{ field: "after_sequence", description: `at most ${head.sequence}` }],
        );
      }
    }
    for (;;) {
      if (signal.aborted) return;
      if (deps.shutdownSignal.aborted) throw new ConnectError("server is shutting down; resume with after_sequence", Code.Unavailable);
      pending = false;
      const before = cursor;
      let restingSeen = false;
      // Served from memory when this replica committed them, else read back from saga_events.
      const cached = deps.bus.eventsAfter(id, cursor);
      const events = cached ?? (await deps.store.readEventsShared(id, cursor, PAGE, deps.bus.generation(id)));
      const last = events.at(-1);
      if (last) {
        // Advanced first: a wake-up for what is being sent is not news.
        cursor = last.sequence;
        restingSeen = RESTING_SAGA_STATUSES.has(last.sagaStatus);
        yield* send(events);
      }
      if (cached === null && events.length === PAGE) continue;
      if (!req.follow && restingSeen) return;
      if (cursor === before) {
        // Nothing new: the saga may have been deleted, or (resuming) already be at rest.
        const latest = cached && deps.bus.latestEvent(id);
        const head = latest ? { status: latest.sagaStatus, sequence: latest.sequence } : await deps.store.sagaHead(id);
        if (!head) throw notFound("saga", id);
        if (!req.follow && RESTING_SAGA_STATUSES.has(head.status) && head.sequence <= cursor) return;
      }
      if (!pending) await waitForWake((fn) => (wake = fn), signal, deps.shutdownSignal);
    }
  } finally {
    unsubscribe();
    signal.removeEventListener("abort", stop);
    deps.shutdownSignal.removeEventListener("abort", stop);
  }
}

async function* drain(deps: SagaServiceDeps, id: string, cursor: number, send: Framing): AsyncGenerator<Message, number> {
  for (;;) {
    const events = await deps.store.readEvents(id, cursor, PAGE);
    if (events.length > 0) {
      cursor = events.at(-1)!.sequence;
      yield* send(events);
    }
    if (events.length < PAGE) return cursor;
  }
}

/** How events become messages: one each, or (batch_events) all that are ready in one. */
type Framing = (events: readonly DomainEvent[]) => Generator<Message>;

function* oneByOne(events: readonly DomainEvent[]): Generator<Message> {
  for (const event of events) yield { kind: { case: "event", value: eventToProto(event) } };
}

function* batched(events: readonly DomainEvent[]): Generator<Message> {
  yield { kind: { case: "events", value: create(SagaEventBatchSchema, { events: events.map(eventToProto) }) } };
}

function waitForWake(setWake: (fn: (() => void) | null) => void, ...signals: AbortSignal[]): Promise<void> {
  return new Promise((resolve) => {
    if (signals.some((s) => s.aborted)) return resolve();
    const timer = setTimeout(done, BACKSTOP_MS);
    function done() {
      clearTimeout(timer);
      setWake(null);
      resolve();
    }
    setWake(done);
  });
}
