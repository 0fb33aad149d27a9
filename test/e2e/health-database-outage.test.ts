import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_VALIDATION_LIMITS } from "../../src/domain/validate-saga.js";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../src/gen/health/v1/health_pb.js";
import { build, type Server } from "../../src/server.js";
import { captureLogs } from "../helpers/log-capture.js";
import { startRestartablePostgres, type RestartablePostgres } from "../helpers/restartable-postgres.js";
import { waitUntil } from "../helpers/wait.js";

async function readyz(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: await res.text() };
}

/**
 * Readiness follows the database: with PostgreSQL stopped, /readyz turns 503 and gRPC health
 * NOT_SERVING within a probe or two (while /healthz stays 200: the process is fine, restarting it
 * would not help), and both recover by themselves once PostgreSQL is back.
 */
describe("health while the database is unreachable", () => {
  let postgres: RestartablePostgres | undefined;
  let server: Server | undefined;
  const { logger, lines } = captureLogs("info");

  beforeAll(async () => {
    postgres = await startRestartablePostgres();
  });
  afterAll(async () => {
    await postgres?.start().catch(() => undefined);
    await server?.close();
    await postgres?.close();
  });

  it("reports NOT_SERVING and 503 while PostgreSQL is down, and SERVING again when it is back", async () => {
    server = await build({
      databaseUrl: postgres!.databaseUrl,
      host: "127.0.0.1",
      port: 0,
      replicaId: "health-outage",
      leaseTtlMs: 5_000,
      pollIntervalMs: 200,
      limits: DEFAULT_VALIDATION_LIMITS,
      maxRequestBytes: 1 << 20,
      shutdownGraceMs: 200,
      poolSize: 4,
      logger,
    });
    const url = server.url;
    const health = createClient(Health, createGrpcTransport({ baseUrl: url }));
    const stop = new AbortController();
    const seen: ServingStatus[] = [];
    const watching = (async () => {
      for await (const res of health.watch({ service: "" }, { signal: stop.signal })) seen.push(res.status);
    })().catch(() => undefined);
    await waitUntil(() => seen.length === 1, "the first Watch message");
    expect(await readyz(url)).toEqual({ status: 200, body: "ready\n" });

    await postgres!.stop();
    await waitUntil(async () => (await readyz(url)).status === 503, "/readyz to notice the outage", 10_000);
    expect((await readyz(url)).body).toMatch(/^not ready: the database does not answer \(.+\)\n$/);
    expect((await health.check({ service: "saga.v1.SagaService" })).status).toBe(ServingStatus.NOT_SERVING);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    await waitUntil(() => seen.length === 2, "Watch to report NOT_SERVING");

    await postgres!.start();
    await waitUntil(async () => (await readyz(url)).status === 200, "/readyz to recover", 15_000);
    expect((await health.check({ service: "" })).status).toBe(ServingStatus.SERVING);
    await waitUntil(() => seen.length === 3, "Watch to report SERVING again");
    expect(seen).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING, ServingStatus.SERVING]);
    stop.abort();
    await watching;

    const transitions = lines.filter((l) => l.msg === "not ready" || l.msg === "ready: serving").map((l) => l.msg);
    expect(transitions).toEqual(["ready: serving", "not ready", "ready: serving"]);
    expect(lines.find((l) => l.msg === "not ready")?.level, "an outage is a warning").toBe(40);
  });
});
