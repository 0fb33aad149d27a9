import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { EventType, SagaEventSchema, SagaSchema, SagaStatus, StepSchema, StepStatus, type SagaEvent } from "../../src/client/index.js";
import type { SagaRecord } from "./accounting.js";
import { accountWorkerSaga, newWorkerAccounting, WORKER_FAILURES, type WorkerFailure } from "./worker-accounting.js";
import type { JournalEntry, SagaJournal } from "./worker-journal.js";
import { bySaga } from "./worker-journal.js";

/**
 * The journal checks catch what they claim to: a clean saga (a flaky step retried, then done,
 * one delivery lost to a dead worker) moves no counter; each test breaks one thing.
 */
const ID = "22222222-2222-4222-8222-222222222222";
const T0 = 1_700_000_000_000;

function ev(sequence: number, type: EventType, step: string, attempt: number, errorKind = ""): SagaEvent {
  return create(SagaEventSchema, { sequence: BigInt(sequence), type, step, attempt, errorKind, time: timestampFromMs(T0 + sequence * 10), sagaStatus: SagaStatus.RUNNING });
}

const at = { saga: ID, phase: "action" as const };
const base = { at: T0, instance: "w1" };

/** Step a: attempt 1 fails FLAKY, attempt 2 runs on w1 (pid 1, lost) and again on w2 (pid 2), which completes. */
function clean(): { record: SagaRecord; entries: JournalEntry[] } {
  const history = [
    ev(1, EventType.SAGA_CREATED, "", 0),
    ev(2, EventType.STEP_STARTED, "a", 1),
    ev(3, EventType.STEP_RETRY_SCHEDULED, "a", 1, "FLAKY"),
    ev(4, EventType.STEP_STARTED, "a", 2),
    ev(5, EventType.STEP_RECOVERED, "a", 2),
    ev(6, EventType.STEP_COMPLETED, "a", 2),
  ];
  const saga = create(SagaSchema, { id: ID, status: SagaStatus.COMPLETED, steps: [create(StepSchema, { name: "a", status: StepStatus.COMPLETED, output: { nonce: "n2" } })] });
  const entries: JournalEntry[] = [
    { ...base, pid: 1, ev: "start", ...at, step: "a", attempt: 1, delivery: 1, key: `${ID}/a`, behaviour: "flaky" },
    { ...base, pid: 1, ev: "end", ...at, step: "a", attempt: 1, delivery: 1, outcome: "retryable" },
    { ...base, pid: 1, ev: "sent", ...at, stepIdx: 0, attempt: 1, delivery: 1, method: "fail" },
    { ...base, pid: 1, ev: "answered", ...at, stepIdx: 0, attempt: 1, delivery: 1, method: "fail", code: "OK", alreadyRecorded: false },
    { ...base, pid: 1, ev: "start", ...at, step: "a", attempt: 2, delivery: 1, key: `${ID}/a`, behaviour: "flaky" },
    { ...base, pid: 2, instance: "w2", ev: "start", ...at, step: "a", attempt: 2, delivery: 2, key: `${ID}/a`, behaviour: "flaky" },
    { ...base, pid: 2, instance: "w2", ev: "end", ...at, step: "a", attempt: 2, delivery: 2, outcome: "ok", nonce: "n2" },
    { ...base, pid: 2, instance: "w2", ev: "sent", ...at, stepIdx: 0, attempt: 2, delivery: 2, method: "complete" },
    { ...base, pid: 2, instance: "w2", ev: "answered", ...at, stepIdx: 0, attempt: 2, delivery: 2, method: "complete", code: "OK", alreadyRecorded: false },
  ];
  return { record: { saga, history, calls: [], live: null, createdSequence: 1n, expected: SagaStatus.COMPLETED }, entries };
}

function account(record: SagaRecord, entries: JournalEntry[]) {
  const acc = newWorkerAccounting();
  const journal: SagaJournal | undefined = bySaga(entries).get(ID);
  accountWorkerSaga(acc, record, journal);
  return acc;
}

function moved(acc: ReturnType<typeof newWorkerAccounting>): WorkerFailure[] {
  return WORKER_FAILURES.filter((f) => acc.failures[f] > 0);
}

describe("worker journal accounting", () => {
  it("a clean saga moves no failure counter, and counts the re-delivery", () => {
    const { record, entries } = clean();
    const acc = account(record, entries);
    expect(moved(acc)).toEqual([]);
    expect(acc).toMatchObject({ handlerStarts: 3, redeliveries: 1, unanswered: 0 });
  });

  it("two result calls for one attempt both answered OK: acceptedTwice", () => {
    const { record, entries } = clean();
    entries.push({ ...base, pid: 1, ev: "answered", ...at, stepIdx: 0, attempt: 2, delivery: 1, method: "complete", code: "OK", alreadyRecorded: false });
    expect(moved(account(record, entries))).toEqual(["acceptedTwice"]);
  });

  it("a second completion of a step: recordedTwice", () => {
    const { record, entries } = clean();
    record.history.push(ev(7, EventType.STEP_COMPLETED, "a", 2));
    expect(moved(account(record, entries))).toEqual(["recordedTwice"]);
  });

  it("a completion nobody sent: resultWithoutReport", () => {
    const { record, entries } = clean();
    const withoutSent = entries.filter((e) => !(e.ev === "sent" && e.method === "complete"));
    expect(moved(account(record, withoutSent))).toContain("resultWithoutReport");
  });

  it("a FLAKY failure nobody sent: resultWithoutReport; a WORKER_LOST one needs no call", () => {
    const { record, entries } = clean();
    const withoutFail = entries.filter((e) => !(e.ev === "sent" && e.method === "fail"));
    expect(moved(account(record, withoutFail))).toEqual(["resultWithoutReport"]);
    record.history[2] = ev(3, EventType.STEP_RETRY_SCHEDULED, "a", 1, "WORKER_LOST");
    expect(moved(account(record, withoutFail))).toEqual([]);
  });

  it("an output no handler returned: foreignOutput", () => {
    const { record, entries } = clean();
    record.saga.steps[0]!.output = { nonce: "forged" };
    expect(moved(account(record, entries))).toEqual(["foreignOutput"]);
  });
});
