import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SagaStatus, type SagaClient } from "../../src/client/index.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createTestActions } from "../helpers/test-actions.js";
import { collectWatch, eventsOf, expectConsecutive } from "../helpers/rpc.js";

/** Counts the server's queries by prepared-statement name while `fn` runs. */
async function countQueries<T>(srv: TestServer, fn: () => Promise<T>): Promise<{ result: T; names: string[] }> {
  const pool = srv.server.pool;
  const original = pool.query;
  const names: string[] = [];
  pool.query = function (this: typeof pool, ...args: unknown[]) {
    const config = args[0] as { name?: string; text?: string } | string;
    names.push(typeof config === "string" ? config : (config.name ?? config.text ?? "?"));
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof pool.query;
  try {
    return { result: await fn(), names };
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
