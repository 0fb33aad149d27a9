import { getEventListeners } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpAction } from "../../src/actions/http.js";
import type { JsonObject } from "../../src/domain/types.js";
import { makeContext } from "./context.js";

let server: Server;
let base: string;

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  const status = /^\/status\/(\d+)$/.exec(url.pathname)?.[1];
  if (url.pathname === "/echo") {
    res.writeHead(200, { "content-type": "application/json; charset=utf-8", "set-cookie": "session=secret" });
    res.end(JSON.stringify({ method: req.method, headers: req.headers, body: text === "" ? null : JSON.parse(text) }));
  } else if (status !== undefined) {
    res.writeHead(Number(status), { "content-type": "text/plain" });
    res.end(`details for ${status}\n  on   two lines`);
  } else if (url.pathname === "/text") {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("hello world");
  } else if (url.pathname === "/bad-json") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end("{not json");
  } else if (url.pathname === "/big") {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("x".repeat(4096));
  } else if (url.pathname === "/stall") {
    // never answers: the abort must interrupt fetch itself, before any response headers
  } else if (url.pathname === "/hang") {
    res.writeHead(200, { "content-type": "text/plain" });
    res.write("partial"); // headers sent, body never finishes
  } else {
    res.writeHead(404).end();
  }
}

beforeAll(async () => {
  server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
});

const http = createHttpAction({ extraHeaders: { "X-Sagad-Replica": "replica-a" }, maxResponseBytes: 1024 });
const run = (config: JsonObject, overrides: Parameters<typeof makeContext>[1] = {}) =>
  http.run(makeContext(config, overrides)) as Promise<JsonObject>;

describe("http action", () => {
  it("sends idempotency, attempt, saga and replica headers", async () => {
    const out = await run({ url: `${base}/echo` }, { attempt: 3, idempotencyKey: "saga-9/charge" });
    const body = out["body"] as { method: string; headers: Record<string, string> };
    expect(body.method).toBe("GET");
    expect(body.headers).toMatchObject({
      "idempotency-key": "saga-9/charge",
      "x-sagad-attempt": "3",
      "x-sagad-saga-id": "saga-1",
      "x-sagad-step": "charge",
      "x-sagad-replica": "replica-a",
    });
  });

  it("lets the step choose its own Idempotency-Key but not the sagad headers", async () => {
    const out = await run({ url: `${base}/echo`, headers: { "Idempotency-Key": "mine", "X-Sagad-Attempt": "99" } });
    const headers = (out["body"] as { headers: Record<string, string> }).headers;
    expect(headers["idempotency-key"]).toBe("mine");
    expect(headers["x-sagad-attempt"]).toBe("1");
  });

  it("round-trips a JSON body with POST by default", async () => {
    const payload = { amount: 12.5, items: [{ sku: "a" }], note: null };
    const out = await run({ url: `${base}/echo`, body: payload });
    expect(out["status"]).toBe(200);
    expect(out["body"]).toMatchObject({ method: "POST", body: payload });
    expect((out["body"] as { headers: Record<string, string> }).headers["content-type"]).toBe("application/json");
    expect(out["headers"]).toMatchObject({ "content-type": "application/json; charset=utf-8" });
    expect(out["headers"]).not.toHaveProperty("set-cookie");
  });

  it("returns non-JSON responses as text", async () => {
    await expect(run({ url: `${base}/text` })).resolves.toMatchObject({ status: 200, body: "hello world" });
    await expect(run({ url: `${base}/bad-json` })).resolves.toMatchObject({ body: "{not json" });
  });

  it.each([
    [500, "HTTP_5XX", true],
    [503, "HTTP_5XX", true],
    [429, "HTTP_429", true],
    [408, "HTTP_408", true],
    [404, "HTTP_4XX", false],
    [400, "HTTP_4XX", false],
  ])("classifies status %i as %s (retryable %s)", async (status, kind, retryable) => {
    const err = await run({ url: `${base}/status/${status}?token=secret`, method: "delete" }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind, retryable });
    const message = (err as Error).message;
    expect(message).toContain(`DELETE ${base}/status/${status}?… -> ${status}: details for ${status} on two lines`);
    expect(message).not.toContain("secret");
  });

  it("treats expect_status as the success set", async () => {
    await expect(run({ url: `${base}/status/404`, expect_status: [200, 404] })).resolves.toMatchObject({ status: 404 });
    await expect(run({ url: `${base}/text`, expect_status: [201] })).rejects.toMatchObject({
      kind: "HTTP_UNEXPECTED_STATUS",
      retryable: false,
    });
  });

  it.each(["/stall", "/hang"])("fails with retryable TIMEOUT when config.timeout passes (%s)", async (path) => {
    const controller = new AbortController();
    const started = performance.now();
    await expect(run({ url: `${base}${path}`, timeout: "50ms" }, { signal: controller.signal })).rejects.toMatchObject({
      kind: "TIMEOUT",
      retryable: true,
    });
    expect(performance.now() - started).toBeLessThan(1000);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it.each(["/stall", "/hang"])("fails with retryable ABORTED when ctx.signal fires (%s)", async (path) => {
    const started = performance.now();
    const err = await run({ url: `${base}${path}` }, { signal: AbortSignal.timeout(50) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: "ABORTED", retryable: true });
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it("does not send a request when the signal already fired", async () => {
    const controller = new AbortController();
    controller.abort(new Error("cancelled"));
    await expect(run({ url: `${base}/echo` }, { signal: controller.signal })).rejects.toMatchObject({
      kind: "ABORTED",
      message: expect.stringContaining("cancelled"),
    });
  });

  it("fails with retryable HTTP_NETWORK when nothing listens", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(run({ url: `http://127.0.0.1:${port}/` })).rejects.toMatchObject({
      kind: "HTTP_NETWORK",
      retryable: true,
      message: expect.stringContaining("ECONNREFUSED"),
    });
  });

  it("fails with non-retryable RESPONSE_TOO_LARGE above maxResponseBytes", async () => {
    await expect(run({ url: `${base}/big` })).rejects.toMatchObject({ kind: "RESPONSE_TOO_LARGE", retryable: false });
  });

  it.each<[string, JsonObject]>([
    ["missing url", {}],
    ["relative url", { url: "/path" }],
    ["non-http url", { url: "ftp://example.com/x" }],
    ["credentials in url", { url: "http://user:pw@127.0.0.1/" }],
    ["non-string header", { url: "http://127.0.0.1/", headers: { "x-n": 1 } }],
    ["invalid header name", { url: "http://127.0.0.1/", headers: { "bad header": "v" } }],
    ["body with GET", { url: "http://127.0.0.1/", method: "GET", body: { a: 1 } }],
    ["bad method", { url: "http://127.0.0.1/", method: "GET /" }],
    ["bad timeout", { url: "http://127.0.0.1/", timeout: "soon" }],
    ["bad expect_status", { url: "http://127.0.0.1/", expect_status: [999] }],
    ["unknown key", { url: "http://127.0.0.1/", expected_status: [200] }],
  ])("rejects %s as non-retryable INVALID_CONFIG", async (_what, config) => {
    await expect(run(config)).rejects.toMatchObject({ kind: "INVALID_CONFIG", retryable: false });
  });

  it("rejects bad options when created", () => {
    expect(() => createHttpAction({ maxResponseBytes: 0 })).toThrow(/maxResponseBytes/);
    expect(() => createHttpAction({ extraHeaders: { "bad header": "x" } })).toThrow();
  });
});
