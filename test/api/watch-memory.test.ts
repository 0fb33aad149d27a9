import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SagaStatus, type SagaClient } from "../../src/client/index.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createTestActions } from "../helpers/test-actions.js";
import { collectWatch, eventsOf, expectConsecutive } from "../helpers/rpc.js";
import { waitUntil } from "../helpers/wait.js";

/** Counts the server's queries by prepared-statement name while `fn` runs. */
async function countQueries<T>(srv: TestServer, fn: (names: string[]) => Promise<T>): Promise<{ result: T; names: string[] }> {
  const pool = srv.server.pool;
  const original = pool.query;
  const names: string[] = [];
  pool.query = function (this: typeof pool, ...args: unknown[]) {
    const config = args[0] as { name?: string; text?: string } | string;
    names.push(typeof config === "string" ? config : (config.name ?? config.text ?? "?"));
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof pool.query;
  try {
    return { result: await fn(names), names };
  } finally {
    pool.query = original;
  }
}

describe("WatchSaga on the replica that drives the saga", () => {
  const t = createTestActions();
  let srv: TestServer;
  let client: SagaClient;
  beforeAll(async () => {
    srv = await startTestServer({ actions: t.actions });
    client = srv.client({ protocol: "grpc" });
  });
  afterAll(() => srv?.close());

  it("delivers events committed here from memory, without reading saga_events back", async () => {
    const { result: events, names } = await countQueries(srv, async () => {
      const { saga } = await client.createSaga({
        name: "memory",
        steps: [
          { name: "a", action: "noop" },
          { name: "b", action: "noop", dependsOn: ["a"] },
          { name: "c", action: "noop", dependsOn: ["b"] },
        ],
      });
      return eventsOf(await collectWatch(client, { id: saga!.id, afterSequence: saga!.sequence }));
    });
    expect(events.at(-1)!.sagaStatus).toBe(SagaStatus.COMPLETED);
    expectConsecutive(events, events[0]!.sequence);
    expect(names).toContain("sagad_insert_sagas");
    expect(names.filter((n) => n === "sagad_read_events" || n === "sagad_saga_head")).toEqual([]);
  });

  it("ends at once, from memory, a resumed watch of a saga that rests at the cursor", async () => {
    const { saga } = await client.createSaga({ name: "memory-end", steps: [{ name: "a", action: "noop" }] });
    const events = eventsOf(await collectWatch(client, { id: saga!.id, afterSequence: saga!.sequence }));
    const last = events.at(-1)!;
    expect(last.sagaStatus).toBe(SagaStatus.COMPLETED);
    const { result: again, names } = await countQueries(srv, () => collectWatch(client, { id: saga!.id, afterSequence: last.sequence }));
    expect(again).toEqual([]);
    expect(names).toEqual([]);
  });

  it("reads Postgres for a cursor older than what this replica remembers, and still has no gaps", async () => {
    const { saga } = await client.createSaga({ name: "memory-old", steps: [{ name: "a", action: "noop" }] });
    const first = eventsOf(await collectWatch(client, { id: saga!.id, afterSequence: saga!.sequence }));
    srv.server.bus.wakeAll(); // as after a LISTEN reconnect: memory is dropped
    const { result: all, names } = await countQueries(srv, async () =>
      eventsOf(await collectWatch(client, { id: saga!.id, afterSequence: 0n })),
    );
    expectConsecutive(all, 1n);
    expect(all.at(-1)!.sequence).toBe(first.at(-1)!.sequence);
    expect(names).toContain("sagad_read_events");
  });
});

describe("WatchSaga on another replica", () => {
  const t = createTestActions();
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    a = await startTestServer({ actions: t.actions, replicaId: "memory-A" });
    b = await startTestServer({ actions: t.actions, replicaId: "memory-B", database: a.db });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it("ten watchers of one saga woken by the same commits share their reads of saga_events", async () => {
    const clientA = a.client({ protocol: "grpc" });
    const clientB = b.client({ protocol: "grpc" });
    const { saga } = await clientA.createSaga({
      name: "shared-reads",
      steps: [
        { name: "g", action: "gate" },
        { name: "x", action: "noop", dependsOn: ["g"] },
      ],
    });
    const id = saga!.id;
    await waitUntil(() => t.callsOf("g").some((c) => c.sagaId === id), "gate started");
    const { result: histories, names } = await countQueries(b, async (names) => {
      const watches = Array.from({ length: 10 }, () => collectWatch(clientB, { id, afterSequence: saga!.sequence }));
      await waitUntil(() => b.server.bus.listenerCount() === 10, "ten watchers subscribed on B");
      await new Promise((resolve) => setTimeout(resolve, 100)); // their first reads are done
      names.length = 0; // count what the commits cause, not how the watchers started
      t.release(id, "g");
      return (await Promise.all(watches)).map(eventsOf);
    });
    for (const events of histories) {
      expectConsecutive(events, saga!.sequence + 1n);
      expect(events.at(-1)!.sagaStatus).toBe(SagaStatus.COMPLETED);
      expect(events).toEqual(histories[0]);
    }
    // One read per wake-up for all ten (two commits: at most two or three wake-ups), instead of
    // ten per wake-up.
    const reads = names.filter((n) => n === "sagad_read_events").length;
    expect(reads).toBeGreaterThan(0);
    expect(reads).toBeLessThan(10);
  });
});
