import pg from "pg";
import type { Logger } from "pino";
import { EVENTS_CHANNEL } from "../store/saga-store.js";

/** What to do with the notifications of one channel. */
export interface ChannelHandler {
  /** A Postgres identifier of ours (lower case, digits, underscores); LISTENed to as is. */
  readonly channel: string;
  onPayload(payload: string): void;
}

const CHANNEL_NAME = /^[a-z_][a-z0-9_]*$/;

/**
 * The handler for saga commits on `sagad_events` (payload `<saga id>:<sequence>`); malformed
 * payloads are ignored.
 */
export function sagaEventsHandler(onCommit: (sagaId: string, sequence: number) => void): ChannelHandler {
  return {
    channel: EVENTS_CHANNEL,
    onPayload(payload) {
      const colon = payload.lastIndexOf(":");
      const sequence = Number(payload.slice(colon + 1));
      if (colon > 0 && Number.isSafeInteger(sequence)) onCommit(payload.slice(0, colon), sequence);
    },
  };
}

/**
 * One dedicated connection LISTENing on every channel sagad cares about (saga commits, token
 * changes) made by any replica. Reconnects with backoff when the connection drops, and calls
 * `onReconnect` because notifications sent meanwhile are lost: listeners must re-read what they
 * care about.
 */
export class NotificationListener {
  private client: pg.Client | null = null;
  private closed = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private readonly handlers: ReadonlyMap<string, ChannelHandler>;

  constructor(
    private readonly databaseUrl: string,
    private readonly logger: Logger,
    handlers: readonly ChannelHandler[],
    private readonly onReconnect: () => void,
  ) {
    for (const h of handlers) {
      if (!CHANNEL_NAME.test(h.channel)) throw new Error(`invalid notification channel name ${JSON.stringify(h.channel)}`);
    }
    this.handlers = new Map(handlers.map((h) => [h.channel, h]));
    if (this.handlers.size !== handlers.length) throw new Error("a notification channel is listed twice");
  }

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
      const handler = this.handlers.get(msg.channel);
      if (!handler) return;
      try {
        handler.onPayload(msg.payload ?? "");
      } catch (err) {
        // One handler's bug must not take the connection (and every other channel) down.
        this.logger.error({ err, channel: msg.channel }, "notification handler failed");
      }
    });
    client.on("error", (err) => {
      this.logger.warn({ err }, "notification connection failed; reconnecting");
      this.scheduleReconnect(client);
    });
    client.on("end", () => this.scheduleReconnect(client));
    try {
      await client.connect();
      // One round trip for every channel (simple query protocol, several statements).
      await client.query([...this.handlers.keys()].map((channel) => `LISTEN ${channel};`).join(" "));
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
