import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/server.js";

const APP = "http://app.example.test:5173";

/**
 * CORS on the wire (what a browser's fetch sees; test/e2e/browser-cors.test.ts drives a real
 * browser) and HTTP GET for the read RPCs, over the Connect protocol.
 */
describe("CORS", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ corsOrigins: [APP] });
  });
  afterAll(() => t.close());

  const preflight = (origin: string, path = "/saga.v1.SagaService/ListSagas") =>
    fetch(`${t.server.url}${path}`, {
      method: "OPTIONS",
      headers: { Origin: origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type, connect-protocol-version" },
    });

  it("answers a listed origin's preflight with the methods and headers Connect and gRPC-Web need", async () => {
    const res = await preflight(APP);
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    expect(res.headers.get("access-control-allow-methods")).toBe("POST, GET");
    const allowed = res.headers.get("access-control-allow-headers")!.toLowerCase().split(", ");
    for (const header of ["authorization", "content-type", "connect-protocol-version", "connect-timeout-ms", "x-grpc-web", "x-user-agent", "grpc-timeout"]) {
      expect(allowed).toContain(header);
    }
    expect(Number(res.headers.get("access-control-max-age"))).toBeGreaterThan(0);
  });

  it("exposes the gRPC status headers on responses to a listed origin", async () => {
    const res = await fetch(`${t.server.url}/saga.v1.SagaService/ListSagas`, {
      method: "POST",
      headers: { Origin: APP, "Content-Type": "application/json", Authorization: `Bearer ${t.adminToken}` },
      body: "{}",
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    expect(res.headers.get("vary")).toContain("Origin");
    const exposed = res.headers.get("access-control-expose-headers")!.toLowerCase().split(", ");
    expect(exposed).toEqual(expect.arrayContaining(["grpc-status", "grpc-message", "grpc-status-details-bin"]));
  });

  it("covers the health endpoints too", async () => {
    const res = await fetch(`${t.server.url}/readyz`, { headers: { Origin: APP } });
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
  });

  it("gives an unlisted origin no CORS header at all", async () => {
    const res = await preflight("http://evil.example.test");
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    expect(res.headers.get("access-control-allow-methods")).toBeNull();
    const call = await fetch(`${t.server.url}/saga.v1.SagaService/ListSagas`, {
      method: "POST",
      headers: { Origin: "http://evil.example.test", "Content-Type": "application/json", Authorization: `Bearer ${t.adminToken}` },
      body: "{}",
    });
    expect(call.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("never puts CORS headers on /metrics", async () => {
    const res = await fetch(`${t.server.url}/metrics`, { headers: { Origin: APP } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    expect((await preflight(APP, "/metrics")).headers.get("access-control-allow-origin")).toBeNull();
  });

  it("without --cors-origins, a preflight gets no CORS headers (the default)", async () => {
    const plain = await startTestServer({ database: t.db });
    try {
      const res = await fetch(`${plain.server.url}/saga.v1.SagaService/ListSagas`, {
        method: "OPTIONS",
        headers: { Origin: APP, "Access-Control-Request-Method": "POST" },
      });
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
    } finally {
      await plain.close();
    }
  });
});

describe("HTTP GET for the read RPCs (Connect protocol)", () => {
  let t: TestServer;
  let id: string;
  beforeAll(async () => {
    t = await startTestServer();
    const { saga } = await t.client().createSaga({ name: "get-me", steps: [{ name: "a", action: "noop", config: { x: 1 } }] });
    id = saga!.id;
  });
  afterAll(() => t.close());

  const get = (method: string, message: unknown, token: string | null = t.adminToken) =>
    fetch(
      `${t.server.url}/saga.v1.SagaService/${method}?connect=v1&encoding=json&message=${encodeURIComponent(JSON.stringify(message))}`,
      { headers: token ? { Authorization: `Bearer ${token}` } : {} },
    );

  it("GetSaga by GET returns the saga", async () => {
    const res = await get("GetSaga", { id });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { saga: { id: string; name: string } };
    expect(body.saga).toMatchObject({ id, name: "get-me" });
  });

  it("ListSagas and ListCircuits by GET answer", async () => {
    const res = await get("ListSagas", { name: "get-me" });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { sagas: { id: string }[] }).sagas.map((s) => s.id)).toEqual([id]);
    expect((await get("ListCircuits", {})).status).toBe(200);
  });

  it("still needs a token", async () => {
    const res = await get("GetSaga", { id }, null);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { code: string }).code).toBe("unauthenticated");
  });

  it("refuses CreateSaga by GET and creates nothing", async () => {
    const res = await get("CreateSaga", { name: "by-get", steps: [{ name: "a", action: "noop" }] });
    expect(res.status).toBe(405);
    const listed = await t.client().listSagas({ name: "by-get" });
    expect(listed.sagas).toHaveLength(0);
  });
});
