import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { describeOutput, startSagad, type RunningSagad } from "../helpers/replica-process.js";
import { waitUntil } from "../helpers/wait.js";

/**
 * The real entry point wires what the flags ask for: `--metrics-port` opens the separate metrics
 * listener (and says where), and with stderr not a terminal `--log-format auto` writes JSON.
 */
describe("sagad (main.ts) observability flags", () => {
  let db: TestDatabase;
  let sagad: RunningSagad | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
    sagad = await startSagad({ env: { DATABASE_URL: db.url }, args: ["--port", "0", "--metrics-port", "0", "--replica-id", "obs-main"] });
  });
  afterAll(async () => {
    await sagad?.stop();
    await db?.drop();
  });

  it("serves /metrics on the port it announces, and the probes on the main port", async () => {
    const announced = () => /^sagad metrics on port (\d+) \(GET \/metrics\)$/m.exec(sagad!.stdout());
    await waitUntil(() => announced() !== null, "the metrics port line");
    const metricsPort = Number(announced()![1]);
    expect(metricsPort).not.toBe(sagad!.port);
    const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain("# TYPE sagad_sagas_created_total counter");
    expect((await fetch(`${sagad!.url}/readyz`)).status).toBe(200);
  });

  it("logs JSON lines with the replica id when stderr is not a terminal, and stops cleanly", async () => {
    await waitUntil(() => sagad!.stderr().includes('"msg":"sagad listening"'), "the listening log line");
    sagad!.signal("SIGTERM");
    const exit = await sagad!.waitForExit(15_000);
    expect(exit, describeOutput(sagad!)).toEqual({ code: 0, signal: null });
    const lines = sagad!.stderr().trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.every((l) => l.replica === "obs-main")).toBe(true);
    expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(["ready: serving", "sagad listening", "not ready", "sagad stopped"]));
    expect(lines.find((l) => l.msg === "sagad listening")).toMatchObject({ metrics_port: expect.any(Number) });
  });
});
