import type { Logger } from "pino";
import type { Scope } from "../domain/scopes.js";
import type { ActiveToken } from "../store/token-store.js";
import { hashSecret, parseToken, secretMatches } from "./token-format.js";

/** Who a valid token belongs to. */
export interface Authenticated {
  readonly tokenName: string;
  readonly scopes: ReadonlySet<Scope>;
}

export interface TokenCacheOptions {
  /** Reads every active token; normally {@link loadActiveTokens} on the pool. */
  load: () => Promise<readonly ActiveToken[]>;
  logger: Logger;
  /**
   * Backstop reload period. NOTIFY on `sagad_tokens` (and a reconnect of the listener) reloads at
   * once; this bounds how stale the cache can be if a notification is lost. Default 5 s.
   */
  reloadIntervalMs?: number;
}

interface Entry {
  readonly principal: Authenticated;
  readonly secretHash: Buffer;
}

/** Compared against when the key id is unknown, so that path costs what a wrong secret costs. */
const DUMMY_HASH = hashSecret("sagad-no-such-token");

/**
 * This replica's copy of the active tokens, so checking a request costs a map lookup and one
 * SHA-256, never a database round trip, and keeps working while the database is briefly away.
 *
 * Guarantees: after {@link start}, the cache holds the active tokens as of some moment at most one
 * reload ago; a reload that fails keeps the last known set (and logs a warning) rather than
 * locking everyone out; reloads never overlap, and a reload requested while one runs is run again
 * afterwards, so the last result applied always comes from a read that began after the last request.
 */
export class TokenCache {
  private tokens = new Map<string, Entry>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly options: TokenCacheOptions) {}

  /** Loads the tokens (throws if the database cannot be read) and starts the backstop timer. */
  async start(): Promise<void> {
    this.apply(await this.options.load());
    const interval = this.options.reloadIntervalMs ?? 5_000;
    this.timer = setInterval(() => void this.reload(), interval);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Number of active tokens known; 0 means every authenticated call is refused. */
  get size(): number {
    return this.tokens.size;
  }

  /**
   * Calls `listener` after every load that was applied (the set may or may not have changed), so
   * holders of long-lived access (open streams) can check their token again; returns the
   * unsubscribe function.
   */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Re-reads the active tokens. Never rejects: a failure is logged and the previous set stays.
   * Resolves once a read that started after this call has been applied (or has failed).
   */
  reload(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.again = true;
    this.running ??= this.drain();
    return this.running;
  }

  private async drain(): Promise<void> {
    try {
      while (this.again && !this.stopped) {
        this.again = false;
        try {
          this.apply(await this.options.load());
        } catch (err) {
          this.options.logger.warn({ err, known_tokens: this.tokens.size }, "could not reload API tokens; keeping the last known set");
        }
      }
    } finally {
      // In the same tick as the last check of `again`, so no request can slip in between.
      this.running = null;
    }
  }

  /**
   * The owner of `token` if it is well formed, known, active and its secret matches; null
   * otherwise, with no hint of which check failed. The lookup is by the token's own key id and the
   * hash comparison is constant-time, so nothing about other tokens can be learned from timing.
   */
  authenticate(token: string): Authenticated | null {
    const parsed = parseToken(token);
    if (!parsed) return null;
    const entry = this.tokens.get(parsed.keyId);
    const matches = secretMatches(parsed.secret, entry?.secretHash ?? DUMMY_HASH);
    return entry && matches ? entry.principal : null;
  }

  private apply(tokens: readonly ActiveToken[]): void {
    this.tokens = new Map(
      tokens.map((t) => [t.keyId, { secretHash: t.secretHash, principal: { tokenName: t.name, scopes: new Set(t.scopes) } }]),
    );
    for (const listener of [...this.listeners]) {
      try {
        listener();
      } catch (err) {
        this.options.logger.error({ err }, "token change listener failed");
      }
    }
  }
}
