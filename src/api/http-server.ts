import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { connectNodeAdapter } from "@connectrpc/connect-node";

/** What `connectNodeAdapter` returns: one handler serving both HTTP/1.1 and HTTP/2 requests. */
export type RequestHandler = ReturnType<typeof connectNodeAdapter>;

/** A listening server; see {@link listen}. */
export interface HttpServer {
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number;
  /**
   * Stops accepting connections, lets in-flight requests finish for up to `graceMs` (default
   * 5000), then destroys whatever is still open, so it resolves even while streams never end.
   */
  close(graceMs?: number): Promise<void>;
}

/** Every HTTP/2 connection without TLS (h2c, "prior knowledge") starts with these bytes. */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** A connection that sends nothing this long is dropped before it is even routed. */
const FIRST_BYTES_TIMEOUT_MS = 10_000;

/** How often close() retries closing HTTP/1.1 keep-alive connections that were busy. */
const IDLE_SWEEP_MS = 50;

/**
 * Serves gRPC (h2c), gRPC-Web and Connect (HTTP/1.1 and h2c) on one port: each connection's first
 * bytes are peeked and handed back, then the connection goes to an HTTP/2 server if they are the
 * HTTP/2 preface and to an HTTP/1.1 server otherwise. Browsers and curl speak HTTP/1.1, gRPC
 * clients h2c; neither has to know about the other.
 */
export async function listen(
  handler: RequestHandler,
  options: { host: string; port: number; maxRequestBytes?: number },
): Promise<HttpServer> {
  const h1 = http.createServer(handler);
  // nghttp2 caps what one session may buffer (default 10 MB) and kills the whole connection with
  // ENHANCE_YOUR_CALM past it, failing every call on it. Leave room for the largest request we
  // accept, so an oversized one gets its own RESOURCE_EXHAUSTED from Connect instead.
  const maxSessionMemory = Math.max(10, 2 * Math.ceil((options.maxRequestBytes ?? 0) / (1 << 20)));
  const h2 = http2.createServer({ maxSessionMemory }, handler);
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.Http2Session>();
  let closing = false;

  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    if (closing) session.close();
  });

  // noDelay as http.createServer would set it: small RPC frames must not wait for Nagle.
  const server = net.createServer({ noDelay: true, keepAlive: true }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    // Socket errors (resets) are the client's business; without a listener they would crash us.
    socket.on("error", () => {});
    route(socket, h1, h2);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // An http.Server only tracks its connections (for closeIdleConnections, headersTimeout and
  // requestTimeout) once it has emitted "listening"; this one never listens itself.
  h1.emit("listening");

  let closed: Promise<void> | undefined;
  return {
    port: (server.address() as net.AddressInfo).port,
    close: (graceMs = 5000) =>
      (closed ??= new Promise<void>((resolve) => {
        closing = true;
        // Resolves once every accepted connection has closed, however it ended.
        server.close(() => resolve());
        for (const session of sessions) session.close(); // GOAWAY: finish streams, start no new ones.
        h1.closeIdleConnections();
        const sweep = setInterval(() => h1.closeIdleConnections(), IDLE_SWEEP_MS);
        const deadline = setTimeout(() => {
          for (const session of sessions) session.destroy();
          for (const socket of sockets) socket.destroy();
        }, graceMs);
        server.once("close", () => {
          clearInterval(sweep);
          clearTimeout(deadline);
          h1.close(); // Stops its connection-tracking timer; it has no socket of its own.
        });
      })),
  };
}

/**
 * Reads until the first bytes either match the HTTP/2 preface or cannot, puts them back and hands
 * the socket to the matching server. HTTP/1.1 methods differ from "PRI" within three bytes, so
 * HTTP/1.1 requests are routed as soon as their first packet arrives.
 */
function route(socket: net.Socket, h1: http.Server, h2: http2.Http2Server): void {
  let received = Buffer.alloc(0);
  socket.setTimeout(FIRST_BYTES_TIMEOUT_MS, () => socket.destroy());
  const onData = (chunk: Buffer): void => {
    received = Buffer.concat([received, chunk]);
    const compared = Math.min(received.length, H2_PREFACE.length);
    const isH2 = received.subarray(0, compared).equals(H2_PREFACE.subarray(0, compared));
    if (isH2 && compared < H2_PREFACE.length) return; // Could still be either; wait for more.
    socket.off("data", onData);
    socket.setTimeout(0);
    // Paused, the put-back bytes wait in the socket's buffer for the server taking over instead of
    // being emitted to nobody. http2 drains that buffer itself; the HTTP/1.1 parser reads future
    // bytes straight from the handle and only sees buffered ones as "data" once resumed.
    socket.pause();
    socket.unshift(received);
    if (isH2) {
      h2.emit("connection", socket);
    } else {
      h1.emit("connection", socket);
      socket.resume();
    }
  };
  socket.on("data", onData);
}
