import { connect, createServer, type Socket } from "node:net";

/** A TCP forwarder in front of a server, for cutting a client's connections on purpose. */
export interface TcpProxy {
  /** `http://127.0.0.1:<port>`: give it to the client instead of the server's URL. */
  readonly url: string;
  /** Client connections accepted so far (a client that reconnected counts twice). */
  readonly connections: number;
  /** Client connections open now. */
  readonly open: number;
  /** Bytes sent from the server to clients so far. */
  readonly bytesDown: number;
  /**
   * Destroys every open connection, both halves, as a dropped network would; the proxy keeps
   * listening, so a client that reconnects gets through. Returns how many it cut.
   */
  cut(): number;
  /**
   * Resets the next connection as soon as the client sends on it, so the first request made on
   * it breaks mid-call (the client sees ECONNRESET); later connections go through.
   */
  dropNextConnection(): void;
  /**
   * From now on, accepts new connections but forwards nothing on them until {@link release}: a
   * client reconnecting meanwhile waits, as behind a network that is down.
   */
  hold(): void;
  /** Connects every held connection through, in order, and stops holding. */
  release(): void;
  /** Cuts everything and stops listening. */
  close(): Promise<void>;
}

/** Starts a proxy on a free loopback port forwarding to `target` (a URL such as srv.server.url). */
export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const pairs = new Set<[Socket, Socket]>();
  let connections = 0;
  let bytesDown = 0;
  let dropNext = 0;
  let held: Socket[] | null = null;
  const forward = (client: Socket) => {
    const upstream = connect(Number(port), hostname);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    upstream.on("data", (chunk: Buffer) => (bytesDown += chunk.length));
    client.pipe(upstream);
    upstream.pipe(client);
    for (const socket of pair) socket.on("error", drop).on("close", drop);
  };
  const server = createServer((client) => {
    connections++;
    if (dropNext > 0) {
      dropNext--;
      client.on("error", () => undefined).once("data", () => client.resetAndDestroy());
      return;
    }
    if (held) {
      client.pause();
      held.push(client.on("error", () => undefined));
      return;
    }
    forward(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address() as { port: number };
  const cut = () => {
    const count = pairs.size;
    for (const [client, upstream] of [...pairs]) {
      // resetAndDestroy sends RST, as a broken network or a killed peer does, not a polite FIN.
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    pairs.clear();
    return count;
  };
  return {
    url: `http://127.0.0.1:${address.port}`,
    get connections() {
      return connections;
    },
    get open() {
      return pairs.size;
    },
    get bytesDown() {
      return bytesDown;
    },
    cut,
    dropNextConnection: () => void dropNext++,
    hold: () => void (held ??= []),
    release: () => {
      const waiting = held ?? [];
      held = null;
      for (const client of waiting) if (!client.destroyed) forward(client);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of held ?? []) client.destroy();
        held = null;
        cut();
        server.close(() => resolve());
      }),
  };
}
