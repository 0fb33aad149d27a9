import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * An HTTP endpoint that holds every request until released: an `http` step pointed at it runs
 * until the test says so, so a saga waits for a slow-starting watcher instead of racing it.
 */
export interface HttpGate {
  readonly url: string;
  /** Requests held now. */
  readonly waiting: number;
  /** Answers the held requests (200, `{}`) and every later one at once. */
  release(): void;
  close(): Promise<void>;
}

export async function startHttpGate(): Promise<HttpGate> {
  const held: ServerResponse[] = [];
  let open = false;
  const server = createServer((_req, res) => (open ? res.end("{}") : held.push(res)));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const release = () => {
    open = true;
    for (const res of held.splice(0)) res.end("{}");
  };
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    get waiting() {
      return held.length;
    },
    release,
    close: () =>
      new Promise<void>((resolve) => {
        release();
        server.close(() => resolve());
      }),
  };
}
