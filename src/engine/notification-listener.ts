import pg from "pg";
import type { Logger } from "pino";
import { EVENTS_CHANNEL } from "../store/saga-store.js";

/**
 * One dedicated connection LISTENing for commits made by any replica (payload `<id>:<sequence>`).
 * Reconnects with backoff when the connection drops, and calls `onReconnect` because
 * notifications sent meanwhile are lost: listeners must re-read what they care about.
 */
export class NotificationListener {
  private client: pg.Client | null = null;
  private closed = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private failures = 0;

  constructor(
    private readonly databaseUrl: string,
    private readonly logger: Logger,
    private readonly onNotification: (sagaId: string, sequence: number) => void,
    private readonly onReconnect: () => void,
  ) {}

  async start(): Promise<void> {
    await this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.databaseUrl,
      application_name: "sagad-listen",
      // A silently dropped network must be noticed, as the pool does.
      keepAlive: true,
      connectionTimeoutMillis: 10_000,
    });
    client.on("notification", (msg) => {
      const payload = msg.payload ?? "";
      const colon = payload.lastIndexOf(":");
      const sequence = Number(payload.slice(colon + 1));
      if (colon > 0 && Number.isSafeInteger(sequence)) this.onNotification(payload.slice(0, colon), sequence);
    });
    client.on("error", (err) => {
      this.logger.warn({ err }, "notification connection failed; reconnecting");
      this.scheduleReconnect(client);
    });
    client.on("end", () => this.scheduleReconnect(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${EVENTS_CHANNEL}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    this.client = client;
    this.failures = 0;
  }

  /** `failed` is the client that broke; events from clients we already replaced are ignored. */
  private scheduleReconnect(failed: pg.Client | null): void {
    if (this.closed || this.retryTimer || (failed && this.client !== failed)) return;
    this.client = null;
    failed?.end().catch(() => undefined);
    const delay = Math.min(5_000, 100 * 2 ** this.failures++);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect().then(
        () => this.onReconnect(),
        (err: unknown) => {
          this.logger.warn({ err, delay }, "notification reconnect failed");
          this.scheduleReconnect(null);
        },
      );
    }, delay);
  }
}
