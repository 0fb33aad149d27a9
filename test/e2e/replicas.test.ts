import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSagaClient, SagaStatus, type SagaClient } from "../../src/client/index.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startHttpRecorder, type HttpCall, type HttpRecorder } from "../helpers/http-recorder.js";
import { describeOutput, startSagad, type RunningSagad } from "../helpers/replica-process.js";
import { mapConcurrent } from "../helpers/rpc.js";
import { createTestToken } from "../helpers/tokens.js";

const SAGAS = 200;
const STEPS = ["s1", "s2", "s3"] as const;

/**
 * DESIGN.md §3 and §7: replicas are stateless processes sharing work through leases on one
 * Postgres. Two real sagad processes get 200 sagas between them; the target records which replica
 * made each call and when, on the test process's clock, so "one replica at a time" and "no step
 * twice" are checked from the outside.
 */
describe("two replica processes sharing one database", () => {
  let db: TestDatabase;
  let target: HttpRecorder;
  let token: string;
  const replicas: RunningSagad[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    token = (await createTestToken(db.pool)).token;
    target = await startHttpRecorder();
    // Every step's target answers after 5 to 20 ms.
    target.reply = () => ({ delayMs: 5 + Math.floor(Math.random() * 16) });
    const start = (replicaId: string) =>
      startSagad({
        env: {
          DATABASE_URL: db.url,
          SAGAD_PORT: "0",
          SAGAD_REPLICA_ID: replicaId,
          SAGAD_LEASE_TTL_MS: "3000",
          SAGAD_POLL_INTERVAL_MS: "200",
          SAGAD_SHUTDOWN_GRACE_MS: "500",
          SAGAD_LOG_LEVEL: "warn",
        },
      }).then((r) => {
        replicas.push(r);
        return r;
      });
    await Promise.all([start("replica-1"), start("replica-2")]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop(5_000)));
    await target?.close();
    await db?.drop();
  });

  it("completes 200 sagas, each driven by one replica at a time, no step called twice, both replicas working", async () => {
    const clients: SagaClient[] = replicas.map((r) => createSagaClient(r.url, { token }));
    const run = randomBytes(4).toString("hex");
    const created = performance.now();

    const ids = await mapConcurrent(
      Array.from({ length: SAGAS }, (_, i) => i),
      16,
      async (i) => {
        const steps = STEPS.map((name, k) => ({
          name,
          action: "http",
          dependsOn: k === 0 ? [] : [STEPS[k - 1]!],
          config: { method: "POST", url: `${target.url}/saga/${i}/${name}`, body: { i, step: name } },
        }));
        const { saga } = await clients[i % 2]!.createSaga({ name: "replicas", labels: { run }, steps });
        return saga!.id;
      },
    );
    expect(new Set(ids).size).toBe(SAGAS);

    // Wait (bounded) until ListSagas counts all of them COMPLETED; fail fast on any that rests otherwise.
    const countWith = async (status: SagaStatus) => {
      const { sagas } = await clients[0]!.listSagas({ status, labels: { run }, pageSize: 1000 });
      return sagas.length;
    };
    const deadline = Date.now() + 40_000;
    for (;;) {
      const done = await countWith(SagaStatus.COMPLETED);
      if (done === SAGAS) break;
      const failed = await countWith(SagaStatus.FAILED);
      expect(failed, "sagas that FAILED").toBe(0);
      if (Date.now() > deadline) {
        throw new Error(`only ${done}/${SAGAS} sagas COMPLETED after 40 s\n${replicas.map(describeOutput).join("\n")}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const elapsedMs = performance.now() - created;

    const bySaga = new Map<string, HttpCall[]>(ids.map((id) => [id, []]));
    for (const call of target.calls) {
      const calls = bySaga.get(call.sagaId ?? "");
      expect(calls, `call ${call.path} names a saga of this test (${call.sagaId})`).toBeDefined();
      calls!.push(call);
    }

    await mapConcurrent(ids, 16, async (id, i) => {
      const saga = (await clients[i % 2]!.getSaga({ id })).saga!;
      expect(SagaStatus[saga.status]).toBe("COMPLETED");
      const calls = bySaga.get(id)!;
      // Each step called exactly once, in order, under its own idempotency key, on attempt 1.
      expect(calls.map((c) => c.step), `steps called for saga ${id}`).toEqual([...STEPS]);
      for (const call of calls) {
        expect(call.idempotencyKey).toBe(`${id}/${call.step}`);
        expect(call.attempt).toBe(1);
        expect(call.answeredAt, `${id}/${call.step} answered`).not.toBeNull();
        expect(call.replica === "replica-1" || call.replica === "replica-2", `replica ${call.replica}`).toBe(true);
      }
      // Calls from different replicas never overlap in time.
      for (const x of calls) {
        for (const y of calls) {
          if (x.replica === y.replica) continue;
          const overlap = Math.min(x.answeredAt!, y.answeredAt!) - Math.max(x.receivedAt, y.receivedAt);
          expect(overlap, `${id}: ${x.step}@${x.replica} overlaps ${y.step}@${y.replica}`).toBeLessThanOrEqual(0);
        }
      }
    });

    const perReplica = new Map<string, number>();
    for (const call of target.calls) perReplica.set(call.replica ?? "", (perReplica.get(call.replica ?? "") ?? 0) + 1);
    expect(target.calls).toHaveLength(SAGAS * STEPS.length);
    expect(perReplica.get("replica-1") ?? 0, "calls made by replica-1").toBeGreaterThan(0);
    expect(perReplica.get("replica-2") ?? 0, "calls made by replica-2").toBeGreaterThan(0);
    console.info(
      `replicas: ${SAGAS} sagas completed in ${Math.round(elapsedMs)} ms; calls per replica ${JSON.stringify(Object.fromEntries(perReplica))}`,
    );
  }, 60_000);
});
