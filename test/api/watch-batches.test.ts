import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SagaStatus, type Saga, type SagaClient, type SagaEvent, type WatchSagaResponse } from "../../src/client/index.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createTestActions } from "../helpers/test-actions.js";
import { waitForStatus, waitUntil } from "../helpers/wait.js";
import { collectWatch, eventsOf, expectConsecutive, PROTOCOLS } from "../helpers/rpc.js";

/** The batches of a batched stream (after its snapshot, if any); fails on a one-event message. */
function batchesOf(messages: WatchSagaResponse[]): SagaEvent[][] {
  return messages
    .filter((m) => m.kind.case !== "snapshot")
    .map((m) => {
      expect(m.kind.case, "a batched stream sends no single-event messages").toBe("events");
      return (m.kind.value as { events: SagaEvent[] }).events;
    });
}

describe.each(PROTOCOLS)("WatchSaga with batch_events over %s", (protocol) => {
  const t = createTestActions();
  let srv: TestServer;
  let client: SagaClient;
  beforeAll(async () => {
    srv = await startTestServer({ actions: t.actions });
    client = srv.client({ protocol });
  });
  afterAll(() => srv?.close());

  /** g (gate) -> a -> b -> c, held at g until released. */
  async function gatedChain(name: string): Promise<string> {
    const { saga } = await client.createSaga({
      name,
      steps: [
        { name: "g", action: "gate" },
        { name: "a", action: "noop", dependsOn: ["g"] },
        { name: "b", action: "noop", dependsOn: ["a"] },
        { name: "c", action: "noop", dependsOn: ["b"] },
      ],
    });
    return saga!.id;
  }

  it("sends the same events as one-by-one, live, in fewer messages: a transition's events travel together", async () => {
    const id = await gatedChain("batched-live");
    const live = collectWatch(client, { id, batchEvents: true });
    await waitUntil(() => srv.server.bus.listenerCount() === 1, "the watch is open");
    t.release(id, "g");
    const messages = await live;
    expect(messages[0]!.kind.case).toBe("snapshot");
    const snapshot = messages[0]!.kind.value as Saga;
    const batches = batchesOf(messages);
    expect(batches.every((b) => b.length > 0), "no empty batch").toBe(true);
    const events = batches.flat();
    expectConsecutive(events, snapshot.sequence + 1n);
    expect(events.at(-1)!.sagaStatus).toBe(SagaStatus.COMPLETED);
    // Each transition commits a step's result and the next step's start together.
    expect(batches.length).toBeLessThan(events.length);
    expect(Math.max(...batches.map((b) => b.length))).toBeGreaterThanOrEqual(2);
    const oneByOne = eventsOf(await collectWatch(client, { id, afterSequence: snapshot.sequence }));
    expect(events).toEqual(oneByOne);
  });

  it("resumes after any sequence with exactly the events after it, without a snapshot", async () => {
    const id = await gatedChain("batched-resume");
    t.release(id, "g");
    await waitForStatus(client, id, SagaStatus.COMPLETED);
    const full = eventsOf(await collectWatch(client, { id, afterSequence: 0n }));
    for (const k of [0, 1, Math.floor(full.length / 2), full.length - 1]) {
      const messages = await collectWatch(client, { id, afterSequence: BigInt(k), batchEvents: true });
      expect(messages.some((m) => m.kind.case === "snapshot")).toBe(false);
      expect(batchesOf(messages).flat(), `after_sequence ${k}`).toEqual(full.slice(k));
    }
    // The history of a resting saga is read back from Postgres as one page: one message.
    expect(await collectWatch(client, { id, afterSequence: 0n, batchEvents: true })).toHaveLength(1);
    // Resuming at the end of a resting saga sends nothing and ends.
    expect(await collectWatch(client, { id, afterSequence: BigInt(full.length), batchEvents: true })).toEqual([]);
  });
});
