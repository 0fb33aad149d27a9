import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventType, SagaStatus, StepStatus } from "../../src/client/index.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { callsFor, eventsOfType, sagaHistory } from "../helpers/saga-history.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createTestActions } from "../helpers/test-actions.js";
import { waitForStatus, waitUntil } from "../helpers/wait.js";

const POLL_MS = 100;

/**
 * Two replicas on one database, each with its own test actions so the call logs show which
 * replica ran what. The database is created here, not by either server, so closing one replica
 * does not drop it from under the other.
 */
describe("lease handover between replicas", () => {
  // Long enough that waiting for expiry is clearly distinguishable from a released lease.
  const LEASE_TTL_MS = 3_000;
  const onA = createTestActions();
  const onB = createTestActions();
  let db: TestDatabase;
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    db = await createTestDatabase();
    a = await startTestServer({ database: db, actions: onA.actions, replicaId: "replica-a", leaseTtlMs: LEASE_TTL_MS, pollIntervalMs: POLL_MS });
    b = await startTestServer({ database: db, actions: onB.actions, replicaId: "replica-b", leaseTtlMs: LEASE_TTL_MS, pollIntervalMs: POLL_MS });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  it("hands a saga held mid-step to the other replica at once when a replica shuts down", async () => {
    const { saga } = await a.client({ protocol: "grpc" }).createSaga({
      name: "handover",
      steps: [
        { name: "g", action: "gate" },
        { name: "h", action: "record", dependsOn: ["g"] },
      ],
    });
    const id = saga!.id;
    await waitUntil(() => callsFor(onA.calls, id, "g").length === 1, "g started on replica A");
    const first = callsFor(onA.calls, id, "g")[0]!;
    // B cannot take a saga A holds a live lease on.
    await new Promise((resolve) => setTimeout(resolve, 3 * POLL_MS));
    expect(callsFor(onB.calls, id, "g")).toHaveLength(0);

    const closing = performance.now();
    await a.close();
    // Shutdown aborted the attempt in flight (the gate only returns early on abort).
    expect(first.endedAt, "A's in-flight attempt was not aborted by shutdown").not.toBeNull();

    await waitUntil(() => callsFor(onB.calls, id, "g").length === 1, "g ran again on replica B", 10_000);
    const again = callsFor(onB.calls, id, "g")[0]!;
    // Released, not expired: B took over within a few polls, well before the 3 s lease could expire.
    expect(again.startedAt - closing).toBeLessThan(1_500);
    // At most one replica ran the step at any time.
    expect(again.startedAt).toBeGreaterThanOrEqual(first.endedAt!);
    // The same attempt runs again, under the same idempotency key, so the target can de-duplicate.
    expect(again.idempotencyKey).toBe(first.idempotencyKey);
    expect(again.idempotencyKey).toBe(`${id}/g`);
    expect(again.attempt).toBe(first.attempt);
    expect(again.attempt).toBe(1);

    const client = b.client({ protocol: "connect" });
    onB.release(id, "g");
    const done = await waitForStatus(client, id, [SagaStatus.COMPLETED, SagaStatus.FAILED]);
    expect(SagaStatus[done.status], done.error).toBe("COMPLETED");
    expect(callsFor(onB.calls, id, "h")).toHaveLength(1);
    expect(callsFor(onA.calls, id, "h")).toHaveLength(0);

    const history = await sagaHistory(client, id);
    const recovered = eventsOfType(history, EventType.STEP_RECOVERED, "g");
    expect(recovered).toHaveLength(1);
    expect(recovered[0]!.attempt).toBe(1);
    expect(StepStatus[recovered[0]!.stepStatus]).toBe("RUNNING");
    expect(eventsOfType(history, EventType.STEP_COMPLETED, "g")).toHaveLength(1);
    // No second STEP_STARTED: the recovered attempt is the same attempt, not a new one.
    expect(eventsOfType(history, EventType.STEP_STARTED, "g")).toHaveLength(1);
  });
});

/**
 * A replica whose clock stands still never renews its lease: to everyone else it looks like a
 * replica that hangs (a long GC pause, a frozen VM). Its lease expires in real time and the other
 * replica takes the saga over; the frozen one must then stop and its late result must not count.
 */
describe("lease expiry takeover from a frozen replica", () => {
  const LEASE_TTL_MS = 600;
  const onA = createTestActions();
  const onB = createTestActions();
  const frozen = new FakeClock();
  let db: TestDatabase;
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    db = await createTestDatabase();
    a = await startTestServer({ database: db, actions: onA.actions, replicaId: "frozen-a", clock: frozen, leaseTtlMs: LEASE_TTL_MS, pollIntervalMs: POLL_MS });
    b = await startTestServer({ database: db, actions: onB.actions, replicaId: "live-b", leaseTtlMs: LEASE_TTL_MS, pollIntervalMs: POLL_MS });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  it("lets the other replica take over once the lease expires, and drops the stale replica's work", async () => {
    // Catch the frozen clock up with real time (server start took a while), then freeze it again:
    // A's lease then runs out LEASE_TTL_MS from now, as seen by B.
    const leaseStart = performance.now();
    frozen.advance(Math.max(0, Date.now() - frozen.now()));
    const { saga } = await a.client().createSaga({
      name: "expiry",
      steps: [
        { name: "g", action: "gate" },
        { name: "h", action: "record", dependsOn: ["g"] },
      ],
    });
    const id = saga!.id;
    await waitUntil(() => callsFor(onA.calls, id, "g").length === 1, "g started on replica A");

    await waitUntil(() => callsFor(onB.calls, id, "g").length === 1, "B took over after the lease expired", 10_000);
    const again = callsFor(onB.calls, id, "g")[0]!;
    // Not before the lease (600 ms from creation, on A's clock) expired.
    expect(again.startedAt - leaseStart).toBeGreaterThanOrEqual(LEASE_TTL_MS - 20);
    expect(again.idempotencyKey).toBe(`${id}/g`);
    expect(again.attempt).toBe(1);

    // A learns it lost the lease (its next look at the saga) and aborts its attempt.
    const stale = callsFor(onA.calls, id, "g")[0]!;
    await waitUntil(() => stale.endedAt !== null, "the stale replica's attempt was aborted", 5_000);
    // Even if it finished now, nothing it reports may land: B still has g running.
    onA.release(id, "g");
    await new Promise((resolve) => setTimeout(resolve, 200));
    const client = b.client({ protocol: "grpc" });
    const mid = (await client.getSaga({ id })).saga!;
    expect(SagaStatus[mid.status]).toBe("RUNNING");
    expect(StepStatus[mid.steps[0]!.status]).toBe("RUNNING");
    expect(callsFor(onA.calls, id, "h")).toHaveLength(0);

    onB.release(id, "g");
    const done = await waitForStatus(client, id, [SagaStatus.COMPLETED, SagaStatus.FAILED]);
    expect(SagaStatus[done.status], done.error).toBe("COMPLETED");
    expect(callsFor(onB.calls, id, "h")).toHaveLength(1);
    expect(callsFor(onA.calls, id, "h")).toHaveLength(0);
    const history = await sagaHistory(client, id);
    expect(eventsOfType(history, EventType.STEP_RECOVERED, "g")).toHaveLength(1);
    expect(eventsOfType(history, EventType.STEP_COMPLETED, "g")).toHaveLength(1);
  });
});
