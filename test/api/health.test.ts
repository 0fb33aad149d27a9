import http2 from "node:http2";
import { Code, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SagaStatus } from "../../src/client/index.js";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../src/gen/health/v1/health_pb.js";
import { createTestDatabase } from "../helpers/database.js";
import { expectCode } from "../helpers/rpc.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createTestActions } from "../helpers/test-actions.js";
import { waitForStatus, waitUntil } from "../helpers/wait.js";

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

/** A real gRPC (h2c) client of grpc.health.v1, as Kubernetes and load balancers use it. */
function healthClient(url: string): Client<typeof Health> {
  return createClient(Health, createGrpcTransport({ baseUrl: url }));
}

/** Reads a Health/Watch stream in the background: statuses as they come, and how it ended. */
function watchHealth(client: Client<typeof Health>, service: string, signal?: AbortSignal) {
  const seen: ServingStatus[] = [];
  const ended = (async () => {
    for await (const res of client.watch({ service }, { signal })) seen.push(res.status);
  })();
  return { seen, ended };
}

describe("health on a running server", () => {
  let srv: TestServer;
  let health: Client<typeof Health>;
  beforeAll(async () => {
    srv = await startTestServer();
    health = healthClient(srv.server.url);
  });
  afterAll(() => srv?.close());

  it("answers /healthz and /readyz with 200 and no token", async () => {
    expect(await get(`${srv.server.url}/healthz`)).toEqual({ status: 200, body: "ok\n" });
    expect(await get(`${srv.server.url}/readyz`)).toEqual({ status: 200, body: "ready\n" });
    // Query strings (probe cache-busters) do not matter.
    expect((await get(`${srv.server.url}/readyz?verbose`)).status).toBe(200);
  });

  it("answers the HTTP endpoints over h2c too", async () => {
    const session = http2.connect(srv.server.url);
    try {
      const get2 = (path: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const stream = session.request({ ":path": path });
          let status = 0;
          let body = "";
          stream.on("response", (headers) => (status = Number(headers[":status"])));
          stream.setEncoding("utf8");
          stream.on("data", (chunk: string) => (body += chunk));
          stream.on("end", () => resolve({ status, body }));
          stream.on("error", reject);
          stream.end();
        });
      expect(await get2("/readyz")).toEqual({ status: 200, body: "ready\n" });
      const metrics = await get2("/metrics");
      expect(metrics.status).toBe(200);
      expect(metrics.body).toContain("# TYPE sagad_rpcs_total counter");
    } finally {
      session.close();
    }
  });

  it("is SERVING for the server as a whole and for the saga API, over gRPC", async () => {
    expect((await health.check({ service: "" })).status).toBe(ServingStatus.SERVING);
    expect((await health.check({ service: "saga.v1.SagaService" })).status).toBe(ServingStatus.SERVING);
    const { statuses } = await health.list({});
    expect(Object.fromEntries(Object.entries(statuses).map(([k, v]) => [k, v.status]))).toEqual({
      "": ServingStatus.SERVING,
      "saga.v1.SagaService": ServingStatus.SERVING,
    });
  });

  it("answers NOT_FOUND to Check and SERVICE_UNKNOWN to Watch for a service it does not know", async () => {
    const err = await expectCode(health.check({ service: "no.such.Service" }), Code.NotFound);
    expect(err.rawMessage).toContain("no.such.Service");
    const stop = new AbortController();
    const watch = watchHealth(health, "no.such.Service", stop.signal);
    await waitUntil(() => watch.seen.length > 0, "the first Watch message");
    expect(watch.seen).toEqual([ServingStatus.SERVICE_UNKNOWN]);
    stop.abort();
    await watch.ended.catch(() => undefined);
  });

  it("ends a Watch when its client cancels", async () => {
    const stop = new AbortController();
    const watch = watchHealth(health, "", stop.signal);
    await waitUntil(() => watch.seen.length > 0, "the first Watch message");
    expect(watch.seen).toEqual([ServingStatus.SERVING]);
    stop.abort();
    const err = await watch.ended.then(() => null, (e: unknown) => e);
    expect(String(err)).toMatch(/cancel|abort/i);
    await waitUntil(
      async () => (await srv.server.metrics.render()).body.includes('sagad_streams_open{service="grpc.health.v1.Health",method="Watch"} 0'),
      "the server side of the stream to end",
    );
  });
});

/**
 * Draining: from the moment close() starts (here held open by a running step and a long grace),
 * /readyz is 503 and gRPC health NOT_SERVING, so load balancers stop sending work; open Watch
 * streams hear NOT_SERVING and then end cleanly.
 */
describe("health while the server drains", () => {
  it("turns 503 / NOT_SERVING at once and ends Watch streams cleanly", async () => {
    const t = createTestActions();
    const db = await createTestDatabase();
    const srv = await startTestServer({ actions: t.actions, shutdownGraceMs: 20_000, database: db });
    let closing: Promise<void> | undefined;
    try {
      const client = srv.client();
      const health = healthClient(srv.server.url);
      const { saga } = await client.createSaga({ name: "drain", steps: [{ name: "gate", action: "gate" }] });
      await waitUntil(() => t.callsOf("gate").length === 1, "the gated step to start");
      const watch = watchHealth(health, "saga.v1.SagaService");
      await waitUntil(() => watch.seen.length > 0, "the first Watch message");

      closing = srv.close();
      await waitUntil(() => watch.seen.length > 1, "Watch to report the change");
      const readyz = await get(`${srv.server.url}/readyz`);
      expect(readyz).toEqual({ status: 503, body: "not ready: draining: sagad is shutting down\n" });
      expect((await get(`${srv.server.url}/healthz`)).status, "still alive while draining").toBe(200);
      expect((await health.check({ service: "" })).status).toBe(ServingStatus.NOT_SERVING);
      await watch.ended; // ended by the server, without an error
      expect(watch.seen).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);

      // The step in flight still finishes and is recorded before the server is gone.
      t.release(saga!.id, "gate");
      await closing;
      const after = await startTestServer({ database: db });
      try {
        await waitForStatus(after.client(), saga!.id, SagaStatus.COMPLETED);
      } finally {
        await after.close();
      }
    } finally {
      await (closing ?? srv.close());
      await db.drop();
    }
  });
});
