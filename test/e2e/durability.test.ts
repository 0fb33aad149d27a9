import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSagaClient, EventType, SagaStatus, StepStatus } from "../../src/client/index.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startHttpRecorder, type HttpCall, type HttpRecorder } from "../helpers/http-recorder.js";
import { describeOutput, startSagad, type RunningSagad } from "../helpers/replica-process.js";
import { eventsOfType, sagaHistory } from "../helpers/saga-history.js";
import { createTestToken } from "../helpers/tokens.js";
import { waitForStatus, waitUntil } from "../helpers/wait.js";

const SAGAS = 5;
const LEASE_TTL_MS = 1_500;

/**
 * DESIGN.md §3: a replica can be SIGKILLed at any instant and another one finishes its sagas.
 * Replica A (a real `node src/main.ts` process) is killed while every saga's second step is in
 * flight against a target that holds the requests open; replica B, started afterwards on the same
 * database, takes the expired leases over and finishes every saga.
 */
describe("durability across a SIGKILLed replica", () => {
  let db: TestDatabase;
  let target: HttpRecorder;
  let token: string;
  const replicas: RunningSagad[] = [];

  const replicaEnv = (replicaId: string) => ({
    DATABASE_URL: db.url,
    SAGAD_PORT: "0",
    SAGAD_REPLICA_ID: replicaId,
    SAGAD_LEASE_TTL_MS: String(LEASE_TTL_MS),
    SAGAD_POLL_INTERVAL_MS: "200",
    SAGAD_SHUTDOWN_GRACE_MS: "500",
    SAGAD_LOG_LEVEL: "warn",
  });

  beforeAll(async () => {
    db = await createTestDatabase();
    token = (await createTestToken(db.pool)).token;
    target = await startHttpRecorder();
  });

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop(5_000)));
    await target?.close();
    await db?.drop();
  });

  it("finishes every saga on replica B, re-running only the step that was in flight, with the same key and attempt", async () => {
    // Step "two" is held open while A runs it; everything else is answered at once.
    let holding = true;
    target.reply = (call) => (holding && call.path.startsWith("/hold/") ? "hold" : {});

    const a = await startSagad({ env: replicaEnv("replica-a") });
    replicas.push(a);
    expect(a.replicaId).toBe("replica-a");
    const clientA = createSagaClient(a.url, { token });

    const ids: string[] = [];
    for (let i = 0; i < SAGAS; i++) {
      const { saga } = await clientA.createSaga({
        name: "durability",
        steps: [
          { name: "one", action: "http", config: { method: "POST", url: `${target.url}/fast/${i}/one`, body: { i } } },
          { name: "two", action: "http", dependsOn: ["one"], config: { method: "POST", url: `${target.url}/hold/${i}/two`, body: { i } } },
          { name: "three", action: "http", dependsOn: ["two"], config: { method: "POST", url: `${target.url}/fast/${i}/three`, body: { i } } },
        ],
      });
      ids.push(saga!.id);
    }

    const callsOf = (id: string, step: string): HttpCall[] => target.calls.filter((c) => c.sagaId === id && c.step === step);
    await waitUntil(
      () => ids.every((id) => callsOf(id, "two").length === 1),
      `every saga's step "two" reached the target from replica A\n${describeOutput(a)}`,
      15_000,
    );
    // The crash point, as committed: "one" COMPLETED, "two" RUNNING, "three" PENDING.
    for (const id of ids) {
      const saga = (await clientA.getSaga({ id })).saga!;
      expect(SagaStatus[saga.status]).toBe("RUNNING");
      expect(saga.steps.map((s) => `${s.name}:${StepStatus[s.status]}`)).toEqual(["one:COMPLETED", "two:RUNNING", "three:PENDING"]);
    }

    a.signal("SIGKILL");
    const killed = await a.waitForExit(5_000);
    expect(killed.signal).toBe("SIGKILL");
    const killedAt = performance.now();
    // A's held requests died with its sockets; B's calls are answered at once.
    holding = false;
    target.releaseHeld();

    const b = await startSagad({ env: replicaEnv("replica-b") });
    replicas.push(b);
    const clientB = createSagaClient(b.url, { token });

    for (const id of ids) {
      const saga = await waitForStatus(
        clientB,
        id,
        [SagaStatus.COMPLETED, SagaStatus.FAILED, SagaStatus.COMPENSATED, SagaStatus.CANCELLED],
        20_000,
      );
      expect(SagaStatus[saga.status], `saga ${id}: ${saga.error}\n${describeOutput(b)}`).toBe("COMPLETED");
      expect(saga.steps.map((s) => StepStatus[s.status])).toEqual(["COMPLETED", "COMPLETED", "COMPLETED"]);
    }

    for (const id of ids) {
      // The step that had COMPLETED before the crash never ran again.
      const one = callsOf(id, "one");
      expect(one.map((c) => c.replica)).toEqual(["replica-a"]);
      expect(one[0]!.idempotencyKey).toBe(`${id}/one`);
      expect(one[0]!.attempt).toBe(1);

      // The step that was RUNNING ran again on B: same idempotency key, same attempt number.
      const two = callsOf(id, "two");
      expect(two.map((c) => c.replica), `calls of ${id}/two`).toEqual(["replica-a", "replica-b"]);
      const [onA, onB] = two as [HttpCall, HttpCall];
      expect(onA.idempotencyKey).toBe(`${id}/two`);
      expect(onB.idempotencyKey).toBe(onA.idempotencyKey);
      expect(onB.attempt).toBe(onA.attempt);
      expect(onB.attempt).toBe(1);
      expect(onB.receivedAt).toBeGreaterThan(killedAt);

      // The rest of the saga ran once, on B.
      const three = callsOf(id, "three");
      expect(three.map((c) => c.replica)).toEqual(["replica-b"]);
      expect(three[0]!.idempotencyKey).toBe(`${id}/three`);

      const history = await sagaHistory(clientB, id);
      expect(history[0]?.sequence).toBe(1n);
      const recovered = eventsOfType(history, EventType.STEP_RECOVERED);
      expect(recovered.map((e) => e.step), `STEP_RECOVERED events of ${id}`).toEqual(["two"]);
      expect(recovered[0]!.attempt).toBe(onA.attempt);
      expect(eventsOfType(history, EventType.STEP_COMPLETED).map((e) => e.step)).toEqual(["one", "two", "three"]);
      expect(eventsOfType(history, EventType.STEP_STARTED, "one")).toHaveLength(1);
    }
    // Nothing else reached the target: 5 × (one + two twice + three).
    expect(target.calls).toHaveLength(SAGAS * 4);
  }, 60_000);
});
