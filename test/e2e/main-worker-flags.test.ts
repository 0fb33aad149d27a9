import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkerClient } from "../../src/client/index.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startSagad, type RunningSagad } from "../helpers/replica-process.js";
import { createTestToken } from "../helpers/tokens.js";

/** The real entry point hands the worker flags (and their variables) to the WorkerService. */
describe("sagad (main.ts) worker timing flags", () => {
  let db: TestDatabase;
  let sagad: RunningSagad | undefined;
  let token: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    token = (await createTestToken(db.pool, ["workers"])).token;
    sagad = await startSagad({
      env: { DATABASE_URL: db.url, SAGAD_WORKER_ACK_TIMEOUT_MS: "2500" },
      args: ["--port", "0", "--worker-heartbeat-ms", "700"],
    });
  });
  afterAll(async () => {
    await sagad?.stop();
    await db?.drop();
  });

  it("RegisterWorker answers the heartbeat interval, session TTL and ack timeout it was started with", async () => {
    const answer = await createWorkerClient(sagad!.url, { token }).registerWorker({ instanceId: "flags", actions: [{ name: "x" }], slots: 1 });
    expect(answer.heartbeatInterval).toMatchObject({ seconds: 0n, nanos: 700_000_000 });
    expect(answer.sessionTtl).toMatchObject({ seconds: 2n, nanos: 100_000_000 });
    expect(answer.ackTimeout).toMatchObject({ seconds: 2n, nanos: 500_000_000 });
  });
});
