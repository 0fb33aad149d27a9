import http from "node:http";
import http2 from "node:http2";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  connectNodeAdapter,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { afterEach, describe, expect, it } from "vitest";
import { listen, type HttpServer, type RequestHandler } from "../../src/api/http-server.js";
import { waitUntil } from "../helpers/wait.js";
import { SagaService } from "../../src/gen/saga/v1/saga_pb.js";

const ok: RequestHandler = (req, res) => {
  res.setHeader("x-http-version", req.httpVersion);
  res.end("ok");
};

function h1Request(
  port: number,
  method = "GET",
  agent: http.Agent | false = false,
): Promise<{ status: number; version: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path: "/", agent }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, version: String(res.headers["x-http-version"]), body }));
    });
    req.on("error", reject);
    req.end(method === "POST" ? "payload" : undefined);
  });
}

function h2Request(session: http2.ClientHttp2Session): Promise<{ status: number; version: string; body: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":path": "/" });
    let status = 0;
    let version = "";
    let body = "";
    stream.on("response", (headers) => {
      status = Number(headers[":status"]);
      version = String(headers["x-http-version"]);
    });
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => (body += chunk));
    stream.on("end", () => resolve({ status, version, body }));
    stream.on("error", reject);
    stream.end();
  });
}

describe("listen", () => {
  let server: HttpServer | undefined;
  const sessions: http2.ClientHttp2Session[] = [];
  afterEach(async () => {
    for (const session of sessions.splice(0)) session.destroy();
    await server?.close(0);
    server = undefined;
  });
  function connectH2(port: number): http2.ClientHttp2Session {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", () => {});
    sessions.push(session);
    return session;
  }

  it("serves HTTP/1.1 and h2c on the same port", async () => {
    server = await listen(ok, { host: "127.0.0.1", port: 0 });

    await expect(h1Request(server.port)).resolves.toEqual({ status: 200, version: "1.1", body: "ok" });
    // POST starts with "P" like the HTTP/2 preface and must still be routed to HTTP/1.1.
    await expect(h1Request(server.port, "POST")).resolves.toEqual({ status: 200, version: "1.1", body: "ok" });
    await expect(h2Request(connectH2(server.port))).resolves.toEqual({ status: 200, version: "2.0", body: "ok" });
  });

  it("routes gRPC, gRPC-Web and Connect to a Connect router", async () => {
    // No method implemented: reaching the router at all answers UNIMPLEMENTED over each protocol.
    server = await listen(connectNodeAdapter({ routes: (router) => router.service(SagaService, {}) }), {
      host: "127.0.0.1",
      port: 0,
    });
    const baseUrl = `http://127.0.0.1:${server.port}`;
    const transports: Record<string, Transport> = {
      "gRPC over h2c": createGrpcTransport({ baseUrl }),
      "gRPC-Web over HTTP/1.1": createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
      "Connect over HTTP/1.1": createConnectTransport({ baseUrl, httpVersion: "1.1" }),
      "Connect over h2c": createConnectTransport({ baseUrl, httpVersion: "2" }),
    };
    for (const [name, transport] of Object.entries(transports)) {
      const error = await createClient(SagaService, transport).getSaga({}).catch((err: unknown) => err);
      expect(ConnectError.from(error).code, name).toBe(Code.Unimplemented);
    }
  });

  it("lets in-flight requests finish, then closes without waiting out the grace", async () => {
    let arrived = 0;
    server = await listen(
      (_req, res) => {
        arrived++;
        setTimeout(() => res.end("late"), 200);
      },
      { host: "127.0.0.1", port: 0 },
    );
    // Keep-alive: the HTTP/1.1 connection stays open after the response unless close() ends it.
    const agent = new http.Agent({ keepAlive: true });
    try {
      const h1 = h1Request(server.port, "GET", agent);
      const h2 = h2Request(connectH2(server.port));
      // Both requests must be in flight when close() starts (a fixed sleep lost that race on a loaded machine).
      await waitUntil(async () => arrived === 2, "both requests reached the handler");
      const started = Date.now();

      const closed = server.close(5000);

      await expect(h1).resolves.toMatchObject({ status: 200, body: "late" });
      await expect(h2).resolves.toMatchObject({ status: 200, body: "late" });
      await closed;
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      agent.destroy();
    }
  });

  it("resolves close() after the grace period while a stream never ends", async () => {
    server = await listen(
      (_req, res) => {
        res.setHeader("content-type", "text/plain");
        res.write("first chunk, and nothing after it");
      },
      { host: "127.0.0.1", port: 0 },
    );
    const stream = connectH2(server.port).request({ ":path": "/" });
    stream.on("error", () => {});
    const [firstChunk] = (await new Promise((resolve) => stream.once("data", (c) => resolve([c])))) as [Buffer];
    expect(firstChunk.toString()).toContain("first chunk");
    const streamClosed = new Promise((resolve) => stream.once("close", resolve));

    const graceMs = 300;
    const started = Date.now();
    await server.close(graceMs);

    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(graceMs - 20);
    expect(elapsed).toBeLessThan(graceMs + 1000);
    await streamClosed;
  });

  it("refuses new connections once closing", async () => {
    server = await listen(ok, { host: "127.0.0.1", port: 0 });
    const { port } = server;
    await server.close();

    await expect(h1Request(port)).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });
});
