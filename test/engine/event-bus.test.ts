import { describe, expect, it } from "vitest";
import type { SagaEvent } from "../../src/domain/types.js";
import { EventBus } from "../../src/engine/event-bus.js";

function event(sequence: number): SagaEvent {
  return {
    sequence,
    type: "STEP_STARTED",
    at: sequence,
    sagaStatus: "RUNNING",
    step: "s",
    stepStatus: "RUNNING",
    attempt: 1,
    error: null,
    errorKind: null,
    output: null,
    nextAttemptAt: null,
    actor: "engine",
    tokenName: null,
    reason: null,
    message: "",
  };
}
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => event(from + i));
const seqs = (events: SagaEvent[] | null) => events?.map((e) => e.sequence) ?? null;

describe("EventBus recent events", () => {
  it("serves every event after a cursor from contiguous local publishes", () => {
    const bus = new EventBus();
    bus.publish("a", 3, range(1, 3));
    bus.publish("a", 5, range(4, 5));
    expect(seqs(bus.eventsAfter("a", 0))).toEqual([1, 2, 3, 4, 5]);
    expect(seqs(bus.eventsAfter("a", 3))).toEqual([4, 5]);
    expect(seqs(bus.eventsAfter("a", 5))).toEqual([]);
  });

  it("cannot vouch for a cursor beyond the head, or for an unknown saga", () => {
    const bus = new EventBus();
    bus.publish("a", 2, range(1, 2));
    expect(bus.eventsAfter("a", 3)).toBeNull();
    expect(bus.eventsAfter("b", 0)).toBeNull();
  });

  it("stops vouching once a commit arrives without its events (remote commit or deletion)", () => {
    const bus = new EventBus();
    bus.publish("a", 2, range(1, 2));
    bus.publish("a", 3); // NOTIFY from another replica
    expect(bus.eventsAfter("a", 0)).toBeNull();
    expect(bus.eventsAfter("a", 2)).toBeNull();
    bus.publish("a", 5, range(4, 5)); // local again: only these are vouched for
    expect(seqs(bus.eventsAfter("a", 3))).toEqual([4, 5]);
    expect(bus.eventsAfter("a", 2)).toBeNull();
  });

  it("keeps its history when our own commit's NOTIFY beats the commit's reply", () => {
    const bus = new EventBus();
    bus.publish("a", 2, range(1, 2));
    bus.publish("a", 4); // echo of the commit writing 3..4
    expect(bus.eventsAfter("a", 1)).toBeNull();
    bus.publish("a", 4, range(3, 4));
    expect(seqs(bus.eventsAfter("a", 1))).toEqual([2, 3, 4]);
  });

  it("ignores the NOTIFY echo of its own commit", () => {
    const bus = new EventBus();
    bus.publish("a", 2, range(1, 2));
    bus.publish("a", 2);
    expect(seqs(bus.eventsAfter("a", 0))).toEqual([1, 2]);
  });

  it("keeps the events of a local commit whose NOTIFY echo arrived first", () => {
    const bus = new EventBus();
    bus.publish("a", 3); // the LISTEN connection can beat the committing query's reply
    bus.publish("a", 3, range(1, 3));
    expect(seqs(bus.eventsAfter("a", 1))).toEqual([2, 3]);
  });

  it("cannot vouch once a later remote commit is known, even for events committed here", () => {
    const bus = new EventBus();
    bus.publish("a", 4); // another replica's commit 4 announced before our commit 3 returned
    bus.publish("a", 3, range(1, 3));
    expect(bus.eventsAfter("a", 1)).toBeNull();
  });

  it("keeps only the latest 64 events of a saga", () => {
    const bus = new EventBus();
    for (let s = 1; s <= 100; s++) bus.publish("a", s, [event(s)]);
    expect(bus.eventsAfter("a", 35)).toBeNull();
    expect(seqs(bus.eventsAfter("a", 36))).toEqual(range(37, 100).map((e) => e.sequence));
  });

  it("drops a saga's events after 30 s without publishes, and everything after a reconnect", () => {
    let now = 0;
    const bus = new EventBus(() => now);
    bus.publish("a", 2, range(1, 2));
    now = 30_001;
    expect(bus.eventsAfter("a", 0)).toBeNull();
    bus.publish("b", 1, range(1, 1));
    bus.wakeAll();
    expect(bus.eventsAfter("b", 0)).toBeNull();
  });

  it("counts publications per watched saga, so reads begun since the latest one can be shared", () => {
    const bus = new EventBus();
    bus.publish("a", 1, range(1, 1));
    expect(bus.generation("a")).toBe(0); // nobody watches: nothing to share
    const off = bus.subscribe("a", () => {});
    bus.publish("a", 2);
    bus.publish("a", 3, range(3, 3));
    expect(bus.generation("a")).toBe(2);
    bus.wakeAll();
    expect(bus.generation("a")).toBe(3);
    off();
    expect(bus.generation("a")).toBe(0);
  });

  it("wakes listeners on the next turn, once per saga, with the latest sequence published", async () => {
    const bus = new EventBus();
    const seen: string[] = [];
    const offA = bus.subscribe("a", (s) => seen.push(`a${s}`));
    bus.subscribe("b", (s) => seen.push(`b${s}`));
    bus.publish("a", 1, range(1, 1));
    bus.publish("a", 2);
    bus.publish("b", 7, range(7, 7));
    // Not during the commit's callback: the driver's next statement goes out first.
    expect(seen).toEqual([]);
    expect(bus.eventsAfter("a", 0)).toBeNull(); // 2 came without events: memory no longer vouches
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual(["a2", "b7"]);
    bus.publish("a", 3, range(3, 3));
    offA();
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual(["a2", "b7"]);
    expect(bus.listenerCount()).toBe(1);
  });
});
