import { connect, createServer, type Socket } from "node:net";

/**
 * A TCP forwarder the harness puts between workers and a replica, playing the network in
 * between: a load balancer that can be pointed at another replica, and a path that can go silent.
 */
export interface SwitchProxy {
  /** `http://127.0.0.1:<port>`: what the workers behind it are given as the server's URL. */
  readonly url: string;
  /** Where new connections go now (`host:port`). */
  readonly upstream: string;
  /** Connections accepted so far, and open now (forwarding or black-holed). */
  readonly connections: number;
  readonly open: number;
  /**
   * New connections go to `target` from now on; open ones are left as they are (a load balancer
   * that takes a dead backend out of rotation does not touch connections to the others).
   */
  point(target: string): void;
  /**
   * Stops forwarding on every open connection in both directions without closing anything: bytes
   * either side sends are read and thrown away, as on a path whose packets vanish (a NAT entry or
   * firewall state dropped). Neither end learns of it from the socket; new connections go
   * through. Returns how many it silenced.
   */
  blackhole(): number;
  /** Destroys everything (black-holed sockets included) and stops listening. */
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  silent: boolean;
}

/** Starts a proxy on a free loopback port forwarding to `target` (a base URL). */
export async function startSwitchProxy(target: string): Promise<SwitchProxy> {
  let upstream = hostPort(target);
  const pairs = new Set<Pair>();
  let connections = 0;
  const server = createServer((client) => {
    connections++;
    const [host, port] = upstream.split(":") as [string, string];
    const pair: Pair = { client, upstream: connect(Number(port), host), silent: false };
    pairs.add(pair);
    const drop = () => {
      if (pair.silent) return; // a black-holed pair stays until close()
      pairs.delete(pair);
      // A refused or reset upstream (a killed replica) resets the client too, as the peer's own
      // kernel would have: the client sees the failure at once.
      client.resetAndDestroy();
      pair.upstream.resetAndDestroy();
    };
    client.pipe(pair.upstream);
    pair.upstream.pipe(client);
    for (const socket of [client, pair.upstream]) socket.on("error", drop).on("close", drop);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    get upstream() {
      return upstream;
    },
    get connections() {
      return connections;
    },
    get open() {
      return pairs.size;
    },
    point(next) {
      upstream = hostPort(next);
    },
    blackhole() {
      let count = 0;
      for (const pair of pairs) {
        if (pair.silent) continue;
        pair.silent = true;
        count++;
        pair.client.unpipe(pair.upstream);
        pair.upstream.unpipe(pair.client);
        for (const socket of [pair.client, pair.upstream]) {
          socket.removeAllListeners("data");
          socket.on("data", () => undefined).on("error", () => undefined);
          socket.resume();
        }
      }
      return count;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const pair of pairs) {
          pair.silent = true; // no drop handler re-entry
          pair.client.destroy();
          pair.upstream.destroy();
        }
        pairs.clear();
        server.close(() => resolve());
      }),
  };
}

function hostPort(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port}`;
}
