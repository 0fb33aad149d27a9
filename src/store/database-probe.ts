import pg from "pg";

/**
 * Answers "does the database answer right now?" with `SELECT 1` on a connection of its own, so a
 * pool busy with saga work cannot make a healthy database look dead (and a dead one is noticed
 * even while the pool is idle). Any failure or timeout drops the connection; the next check opens
 * a new one, so a half-broken connection is never trusted twice.
 */
export class DatabaseProbe {
  private client: pg.Client | null = null;
  private closed = false;

  constructor(
    private readonly databaseUrl: string,
    /** Connecting and the query each give up after this long. */
    private readonly timeoutMs: number,
  ) {}

  /** Resolves when the database answered within the timeout; rejects with why not. */
  async check(): Promise<void> {
    if (this.closed) throw new Error("database probe is closed");
    let client = this.client;
    try {
      if (!client) {
        client = this.newClient();
        this.client = client;
        await client.connect();
      }
      await client.query("SELECT 1");
    } catch (err) {
      this.drop(client);
      throw err;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private newClient(): pg.Client {
    const client = new pg.Client({
      connectionString: this.databaseUrl,
      application_name: "sagad-health",
      connectionTimeoutMillis: this.timeoutMs,
      query_timeout: this.timeoutMs,
      keepAlive: true,
    });
    // A connection dying while idle (server restart) is reported by the next check; without a
    // listener pg would crash the process.
    client.on("error", () => this.drop(client));
    return client;
  }

  private drop(client: pg.Client | null): void {
    if (client === null || this.client !== client) return;
    this.client = null;
    client.end().catch(() => undefined);
  }
}
