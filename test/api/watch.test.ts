import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  EventType,
  SagaStatus,
  type Saga,
  type SagaClient,
  type SagaEvent,
  type WatchSagaResponse,
} from "../../src/client/index.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createTestActions } from "../helpers/test-actions.js";
import { waitForStatus, waitUntil } from "../helpers/wait.js";
import { collectWatch, eventsOf, expectCode, expectConsecutive, ONE_ATTEMPT, PROTOCOLS, type WatchSagaInit } from "../helpers/rpc.js";

const RESTING = new Set([
  SagaStatus.COMPLETED,
  SagaStatus.FAILED,
  SagaStatus.COMPENSATED,
  SagaStatus.COMPENSATION_FAILED,
  SagaStatus.CANCELLED,
]);

/** An open watch read message by message, so a test can tell "nothing yet" from "ended". */
class OpenWatch {
  readonly controller = new AbortController();
  private readonly it: AsyncIterator<WatchSagaResponse>;
  private pending: Promise<IteratorResult<WatchSagaResponse>> | null = null;

  constructor(client: SagaClient, req: WatchSagaInit) {
    this.it = client.watchSaga(req, { signal: this.controller.signal })[Symbol.asyncIterator]();
  }

  /** The next message; fails if the stream ended. */
  async next(): Promise<WatchSagaResponse> {
    const r = await this.result();
    if (r.done) throw new Error("the stream ended");
    return r.value;
  }

  /** The next result (or the error the stream ended with), or "open" if none arrives within `ms`. */
  async within(ms: number): Promise<IteratorResult<WatchSagaResponse> | { error: ConnectError } | "open"> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"open">((resolve) => (timer = setTimeout(() => resolve("open"), ms)));
    const result = this.peek().then(
      (r) => r,
      (err: unknown) => ({ error: ConnectError.from(err) }),
    );
    const winner = await Promise.race([result, timeout]);
    clearTimeout(timer);
    if (winner !== "open") this.pending = null;
    return winner;
  }

  /** Events until one shows `status` (inclusive). */
  async eventsUntil(status: SagaStatus): Promise<SagaEvent[]> {
    const events: SagaEvent[] = [];
    for (;;) {
      const msg = await this.next();
      expect(msg.kind.case).toBe("event");
      const event = msg.kind.value as SagaEvent;
      events.push(event);
      if (event.sagaStatus === status && event.type === EventType.SAGA_STATUS_CHANGED) return events;
    }
  }

  /** Every remaining message; the stream must end by itself. */
  async rest(): Promise<WatchSagaResponse[]> {
    const out: WatchSagaResponse[] = [];
    for (let r = await this.result(); !r.done; r = await this.result()) out.push(r.value);
    return out;
  }

  /** Aborts and returns the error the reader saw. */
  async abort(): Promise<ConnectError> {
    const result = this.peek();
    this.controller.abort();
    try {
      await result;
      for (let r = await this.result(); !r.done; r = await this.result());
    } catch (err) {
      return ConnectError.from(err);
    }
    throw new Error("the aborted stream ended without an error");
  }

  private peek() {
    return (this.pending ??= this.it.next());
  }

  private async result() {
    const r = await this.peek();
    this.pending = null;
    return r;
  }
}

describe.each(PROTOCOLS)("WatchSaga over %s", (protocol) => {
  const t = createTestActions();
  let srv: TestServer;
  let client: SagaClient;
  beforeAll(async () => {
    srv = await startTestServer({ actions: t.actions });
    client = srv.client({ protocol });
  });
  afterAll(() => srv?.close());

  const waitForNoListeners = () => waitUntil(() => srv.server.bus.listenerCount() === 0, "bus listeners released", 5_000);

  /** g (gate) -> a -> b; held at g until released. */
  async function gatedSaga(name: string): Promise<string> {
    const { saga } = await client.createSaga({
      name,
      steps: [
        { name: "g", action: "gate", compensate: { action: "noop" } },
        { name: "a", action: "record", dependsOn: ["g"] },
        { name: "b", action: "noop", dependsOn: ["a"], config: { v: "{{steps.a.output.step}}" } },
      ],
    });
    return saga!.id;
  }

  async function history(id: string): Promise<SagaEvent[]> {
    const events = eventsOf(await collectWatch(client, { id, afterSequence: 0n }));
    expectConsecutive(events, 1n);
    return events;
  }

  it("sends a snapshot, then every event in order up to the resting state, then ends", async () => {
    const id = await gatedSaga("watch-live");
    const watch = new OpenWatch(client, { id });
    const first = await watch.next();
    expect(first.kind.case).toBe("snapshot");
    const snapshot = first.kind.value as Saga;
    expect(snapshot.id).toBe(id);
    expect(snapshot.steps.map((s) => s.name)).toEqual(["g", "a", "b"]);
    expect(await watch.within(200), "nothing happens while the gate is closed").toBe("open");
    t.release(id, "g");
    const rest = await watch.rest();
    expect(rest.every((m) => m.kind.case === "event"), "only one snapshot").toBe(true);
    const events = eventsOf(rest);
    expectConsecutive(events, snapshot.sequence + 1n);
    const last = events.at(-1)!;
    expect(last.type).toBe(EventType.SAGA_STATUS_CHANGED);
    expect(last.sagaStatus).toBe(SagaStatus.COMPLETED);
    expect(events.slice(0, -1).every((e) => !RESTING.has(e.sagaStatus))).toBe(true);
    expect(events.filter((e) => e.type === EventType.STEP_COMPLETED).map((e) => e.step)).toEqual(["g", "a", "b"]);
    // What the live watcher saw is exactly the stored history after its snapshot.
    const full = await history(id);
    expect(full[0]!.type).toBe(EventType.SAGA_CREATED);
    expect(events).toEqual(full.slice(Number(snapshot.sequence)));
    expect((await client.getSaga({ id })).saga!.sequence).toBe(last.sequence);
  });

  it("a watch of a resting saga sends the snapshot and ends", async () => {
    const { saga } = await client.createSaga({ name: "rested", steps: [{ name: "n", action: "noop" }] });
    await waitForStatus(client, saga!.id, SagaStatus.COMPLETED);
    const messages = await collectWatch(client, { id: saga!.id });
    expect(messages).toHaveLength(1);
    expect(messages[0]!.kind.case).toBe("snapshot");
    const snapshot = messages[0]!.kind.value as Saga;
    expect(snapshot.status).toBe(SagaStatus.COMPLETED);
    expect(snapshot.sequence).toBe((await client.getSaga({ id: saga!.id })).saga!.sequence);
  });

  it("resuming with after_sequence = k sends exactly events k+1..end", async () => {
    const id = await gatedSaga("watch-resume");
    t.release(id, "g");
    await waitForStatus(client, id, SagaStatus.COMPLETED);
    const full = await history(id);
    const end = full.length;
    expect(end).toBeGreaterThan(5);
    for (let k = 0; k <= end; k++) {
      const messages = await collectWatch(client, { id, afterSequence: BigInt(k) });
      expect(messages.every((m) => m.kind.case === "event"), "no snapshot when resuming").toBe(true);
      expect(eventsOf(messages), `after_sequence ${k}`).toEqual(full.slice(k));
    }
    // A cursor past the saga's latest event cannot come from this saga: say so instead of waiting.
    const beyond = await expectCode(collectWatch(client, { id, afterSequence: BigInt(end + 1) }), Code.OutOfRange);
    expect(beyond.rawMessage).toContain(`beyond the saga's latest event ${end}`);
    await waitForNoListeners();
  });

  it("resuming mid-flight continues live from k+1 and ends at rest", async () => {
    const id = await gatedSaga("watch-resume-live");
    const { saga } = await client.getSaga({ id });
    const k = saga!.sequence - 1n;
    const watch = new OpenWatch(client, { id, afterSequence: k });
    const first = await watch.next();
    expect(first.kind.case).toBe("event");
    expect((first.kind.value as SagaEvent).sequence).toBe(k + 1n);
    t.release(id, "g");
    const events = [first.kind.value as SagaEvent, ...eventsOf(await watch.rest())];
    expectConsecutive(events, k + 1n);
    expect(events.at(-1)!.sagaStatus).toBe(SagaStatus.COMPLETED);
    expect(events).toEqual((await history(id)).slice(Number(k)));
  });

  it("follow: true stays open after rest, sends later operator transitions, until aborted", async () => {
    const { saga } = await client.createSaga({
      name: "watch-follow",
      steps: [{ name: "f", action: "flaky", config: { failTimes: 1 }, retryPolicy: ONE_ATTEMPT }],
    });
    const id = saga!.id;
    const failed = await waitForStatus(client, id, SagaStatus.FAILED);
    const watch = new OpenWatch(client, { id, follow: true });
    const first = await watch.next();
    expect(first.kind.case).toBe("snapshot");
    expect((first.kind.value as Saga).status).toBe(SagaStatus.FAILED);
    expect((first.kind.value as Saga).sequence).toBe(failed.sequence);
    expect(await watch.within(300), "still open at FAILED").toBe("open");

    await client.retryStep({ id, step: "f", config: { failTimes: 0 } });
    const events = await watch.eventsUntil(SagaStatus.COMPLETED);
    expectConsecutive(events, failed.sequence + 1n);
    expect(events[0]!.type).toBe(EventType.STEP_RESET);
    expect(events[0]!.actor).toBe("RetryStep");
    expect(await watch.within(300), "still open at COMPLETED").toBe("open");
    expect(srv.server.bus.listenerCount()).toBe(1);

    const err = await watch.abort();
    expect(err.code).toBe(Code.Canceled);
    await waitForNoListeners();
  });

  it("follow: true with after_sequence at the end of a finished saga stays open", async () => {
    const { saga } = await client.createSaga({ name: "watch-follow-end", steps: [{ name: "n", action: "noop" }] });
    const done = await waitForStatus(client, saga!.id, SagaStatus.COMPLETED);
    const watch = new OpenWatch(client, { id: saga!.id, afterSequence: done.sequence, follow: true });
    expect(await watch.within(300)).toBe("open");
    expect((await watch.abort()).code).toBe(Code.Canceled);
    await waitForNoListeners();
  });

  it("a followed saga that is deleted ends the stream and releases the subscription", async () => {
    // DESIGN is silent here; a follower of a saga that no longer exists would otherwise wait
    // (and hold a bus subscription and re-read saga_events every backstop period) forever.
    const { saga } = await client.createSaga({ name: "watch-deleted", steps: [{ name: "n", action: "noop" }] });
    const done = await waitForStatus(client, saga!.id, SagaStatus.COMPLETED);
    const watch = new OpenWatch(client, { id: saga!.id, afterSequence: done.sequence, follow: true });
    expect(await watch.within(200)).toBe("open");
    await client.deleteSaga({ id: saga!.id });
    const ended = await watch.within(7_000);
    if (ended === "open") {
      await watch.abort();
      expect.fail("the stream of a deleted saga stayed open for 7 s");
    }
    // Ending cleanly would do; ending with an error must say NOT_FOUND.
    if ("error" in ended) expect(Code[ended.error.code]).toBe(Code[Code.NotFound]);
    else expect(ended.done, "no event after the deletion").toBe(true);
    await waitForNoListeners();
  });

  it("aborting 100 open watches releases every server subscription; a fresh watch still works", async () => {
    const id = await gatedSaga("watch-many");
    await waitUntil(() => t.callsOf("g").some((c) => c.sagaId === id), "gate started");
    const watches = Array.from({ length: 100 }, () => new OpenWatch(client, { id }));
    const snapshots = await Promise.all(watches.map((w) => w.next()));
    expect(snapshots.every((m) => m.kind.case === "snapshot")).toBe(true);
    expect(srv.server.bus.listenerCount()).toBe(100);

    const errors = await Promise.all(watches.map((w) => w.abort()));
    expect(errors.every((e) => e.code === Code.Canceled)).toBe(true);
    await waitForNoListeners();
    expect((await client.getSaga({ id })).saga!.status).toBe(SagaStatus.RUNNING);

    const fresh = new OpenWatch(client, { id });
    const snapshot = (await fresh.next()).kind.value as Saga;
    expect(srv.server.bus.listenerCount()).toBe(1);
    t.release(id, "g");
    const events = eventsOf(await fresh.rest());
    expectConsecutive(events, snapshot.sequence + 1n);
    expect(events.at(-1)!.sagaStatus).toBe(SagaStatus.COMPLETED);
    await waitForNoListeners();
  });

  it("a watch that ends by itself releases its subscription", async () => {
    const id = await gatedSaga("watch-release");
    const watch = new OpenWatch(client, { id });
    await watch.next();
    expect(srv.server.bus.listenerCount()).toBe(1);
    t.release(id, "g");
    await watch.rest();
    await waitForNoListeners();
  });

  it("a watch sees a cancel through compensation to CANCELLED", async () => {
    const id = await gatedSaga("watch-cancel");
    await waitUntil(() => t.callsOf("g").some((c) => c.sagaId === id), "gate started");
    const watch = new OpenWatch(client, { id });
    const snapshot = (await watch.next()).kind.value as Saga;
    await client.cancelSaga({ id, reason: "test" });
    const events = eventsOf(await watch.rest());
    expectConsecutive(events, snapshot.sequence + 1n);
    expect(events.map((e) => e.sagaStatus)).toContain(SagaStatus.CANCELLING);
    expect(events.at(-1)!.sagaStatus).toBe(SagaStatus.CANCELLED);
    expect(events.map((e) => e.type)).toContain(EventType.STEP_CANCELLED);
  });
});

describe.each(PROTOCOLS)("WatchSaga across replicas over %s", (protocol) => {
  const t = createTestActions();
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    a = await startTestServer({ actions: t.actions, replicaId: `A-${protocol}` });
    b = await startTestServer({ actions: t.actions, replicaId: `B-${protocol}`, database: a.db });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it("a watch on replica B sees, live, every event of a saga created and driven on replica A", async () => {
    const clientA = a.client({ protocol });
    const clientB = b.client({ protocol });
    const { saga } = await clientA.createSaga({
      name: "cross",
      steps: [
        { name: "g", action: "gate" },
        { name: "x", action: "record", dependsOn: ["g"] },
        { name: "y", action: "record", dependsOn: ["g"] },
        { name: "z", action: "record", dependsOn: ["x", "y"] },
      ],
    });
    const id = saga!.id;
    await waitUntil(() => t.callsOf("g").some((c) => c.sagaId === id), "gate started");
    expect(a.server.engine.activeSagaCount()).toBe(1);

    const watch = new OpenWatch(clientB, { id });
    const snapshot = (await watch.next()).kind.value as Saga;
    expect(snapshot.id).toBe(id);
    expect(b.server.bus.listenerCount()).toBe(1);
    const released = Date.now();
    t.release(id, "g");
    const events = eventsOf(await watch.rest());
    // Well under the 5 s backstop poll: the wake-up came through LISTEN/NOTIFY.
    expect(Date.now() - released).toBeLessThan(2_500);
    expectConsecutive(events, snapshot.sequence + 1n);
    expect(events.at(-1)!.sagaStatus).toBe(SagaStatus.COMPLETED);
    expect(events.filter((e) => e.type === EventType.STEP_COMPLETED).map((e) => e.step).sort()).toEqual(["g", "x", "y", "z"]);
    // Driven on A only.
    expect(b.server.engine.activeSagaCount()).toBe(0);
    expect(new Set(t.calls.filter((c) => c.sagaId === id).map((c) => c.step))).toEqual(new Set(["g", "x", "y", "z"]));
    const full = eventsOf(await collectWatch(clientA, { id, afterSequence: 0n }));
    expect(events).toEqual(full.slice(Number(snapshot.sequence)));
    await waitUntil(() => b.server.bus.listenerCount() === 0, "B's subscription released");
  });

  it("an operator operation on B reaches a watch on A", async () => {
    const clientA = a.client({ protocol });
    const clientB = b.client({ protocol });
    const { saga } = await clientA.createSaga({
      name: "cross-op",
      steps: [{ name: "f", action: "fail", retryPolicy: ONE_ATTEMPT }, { name: "n", action: "noop", dependsOn: ["f"] }],
    });
    const failed = await waitForStatus(clientA, saga!.id, SagaStatus.FAILED);
    // FAILED is resting: only a following watch waits for what an operator does next.
    const watch = new OpenWatch(clientA, { id: failed.id, afterSequence: failed.sequence, follow: true });
    expect(await watch.within(200)).toBe("open");
    const started = Date.now();
    await clientB.skipStep({ id: failed.id, step: "f" });
    const events = await watch.eventsUntil(SagaStatus.COMPLETED);
    expect(Date.now() - started).toBeLessThan(2_500);
    expectConsecutive(events, failed.sequence + 1n);
    expect(events[0]!.type).toBe(EventType.STEP_SKIPPED);
    expect(events[0]!.actor).toBe("SkipStep");
    expect((await watch.abort()).code).toBe(Code.Canceled);
    await waitUntil(() => a.server.bus.listenerCount() === 0, "A's subscription released");
  });
});

describe.each(PROTOCOLS)("WatchSaga at server shutdown over %s", (protocol) => {
  it("an open watch ends with UNAVAILABLE", async () => {
    const t = createTestActions();
    const srv = await startTestServer({ actions: t.actions });
    let closed = false;
    try {
      const client = srv.client({ protocol });
      const { saga } = await client.createSaga({ name: "shutdown", steps: [{ name: "g", action: "gate" }] });
      const watch = new OpenWatch(client, { id: saga!.id, follow: true });
      expect((await watch.next()).kind.case).toBe("snapshot");
      const ended = watch.rest();
      const closing = srv.close();
      closed = true;
      const err = await expectCode(ended, Code.Unavailable);
      expect(err.rawMessage).toContain("after_sequence");
      await closing;
    } finally {
      if (!closed) await srv.close();
    }
  });
});

describe("WatchSaga with many concurrent watchers", () => {
  const t = createTestActions();
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ actions: t.actions });
  });
  afterAll(() => srv?.close());

  it("does not make Node warn of a listener leak (more than 10 watches is normal load)", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => {
      if (w.name === "MaxListenersExceededWarning") warnings.push(w);
    };
    process.on("warning", onWarning);
    try {
      const client = srv.client({ protocol: "grpc" });
      const { saga } = await client.createSaga({ name: "many", steps: [{ name: "g", action: "gate" }] });
      const watches = Array.from({ length: 20 }, () => new OpenWatch(client, { id: saga!.id }));
      await Promise.all(watches.map((w) => w.next()));
      expect(srv.server.bus.listenerCount()).toBe(20);
      await new Promise((resolve) => setImmediate(resolve)); // process warnings are emitted on the next tick
      await Promise.all(watches.map((w) => w.abort()));
      await waitUntil(() => srv.server.bus.listenerCount() === 0, "bus listeners released");
      expect(warnings.map((w) => w.message)).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });
});
