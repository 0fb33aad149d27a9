import http from "node:http";
import type { AddressInfo } from "node:net";

/** One request the target server received, as sagad's `http` action sent it. */
export interface HttpCall {
  method: string;
  path: string;
  idempotencyKey: string | undefined;
  /** X-Sagad-Attempt as a number (NaN when missing). */
  attempt: number;
  replica: string | undefined;
  sagaId: string | undefined;
  step: string | undefined;
  /** performance.now() in the test process when the request arrived. */
  receivedAt: number;
  /** performance.now() when the response was finished; null while held or if never answered. */
  answeredAt: number | null;
}

/** What to do with a request: answer now, after a delay, or hold it until released. */
export type Reply = { delayMs?: number; status?: number } | "hold";

export interface HttpRecorder {
  /** e.g. http://127.0.0.1:40123 */
  readonly url: string;
  /** Every request, in arrival order. */
  readonly calls: HttpCall[];
  /** Decides each request's fate; replace it at any time. Default: 200 at once. */
  reply: (call: HttpCall) => Reply;
  /** Requests currently held open. */
  heldCount(): number;
  /** Answers every held request now (those whose client has gone are just dropped). */
  releaseHeld(): void;
  /** Closes the server and every connection. Idempotent. */
  close(): Promise<void>;
}

/**
 * A plain node:http server on 127.0.0.1 standing in for the services saga steps call: it records
 * every request with sagad's headers (Idempotency-Key, X-Sagad-Attempt, X-Sagad-Replica, …) and
 * the test process's clock, so calls from several sagad processes can be compared on one timeline.
 */
export async function startHttpRecorder(): Promise<HttpRecorder> {
  const held = new Set<() => void>();
  const timers = new Set<NodeJS.Timeout>();
  const calls: HttpCall[] = [];
  const header = (req: http.IncomingMessage, name: string) => {
    const value = req.headers[name];
    return Array.isArray(value) ? value.join(",") : value;
  };

  const server = http.createServer((req, res) => {
    const call: HttpCall = {
      method: req.method ?? "",
      path: new URL(req.url ?? "/", "http://x").pathname,
      idempotencyKey: header(req, "idempotency-key"),
      attempt: Number(header(req, "x-sagad-attempt") ?? Number.NaN),
      replica: header(req, "x-sagad-replica"),
      sagaId: header(req, "x-sagad-saga-id"),
      step: header(req, "x-sagad-step"),
      receivedAt: performance.now(),
      answeredAt: null,
    };
    calls.push(call);
    req.resume();
    let status = 200;
    const answer = () => {
      held.delete(answer);
      if (res.writableEnded || res.destroyed) return;
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify({ path: call.path, replica: call.replica ?? null }), () => {
        call.answeredAt = performance.now();
      });
    };
    const reply = recorder.reply(call);
    if (reply === "hold") {
      held.add(answer);
      res.once("close", () => held.delete(answer));
      return;
    }
    status = reply.status ?? 200;
    if (!reply.delayMs) return answer();
    const timer = setTimeout(() => {
      timers.delete(timer);
      answer();
    }, reply.delayMs);
    timers.add(timer);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  const recorder: HttpRecorder = {
    url: `http://127.0.0.1:${port}`,
    calls,
    reply: () => ({}),
    heldCount: () => held.size,
    releaseHeld() {
      for (const answer of [...held]) answer();
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        held.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
  return recorder;
}
