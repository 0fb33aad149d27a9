import type pg from "pg";
import { isScope, type Scope } from "../domain/scopes.js";

/**
 * Notification channel for token changes (payload `<created|revoked>:<key id>`), sent in the
 * transaction that makes the change, so every replica's token cache reloads as soon as it commits.
 */
export const TOKENS_CHANNEL = "sagad_tokens";

/** A pool or a single connection: every function here is one statement and needs no transaction of its own. */
export type Queryable = pg.Pool | pg.ClientBase;

/** What is stored about a new token: never its secret. */
export interface TokenRow {
  readonly keyId: string;
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly secretHash: Buffer;
}

/** A token as `sagad token list` shows it. */
export interface TokenInfo {
  readonly keyId: string;
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly createdAt: Date;
  readonly revokedAt: Date | null;
}

/** An unrevoked token, as the token cache needs it to check presented secrets. */
export interface ActiveToken {
  readonly keyId: string;
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly secretHash: Buffer;
}

/** Result of {@link revokeToken}. */
export type RevokeResult =
  | { readonly kind: "revoked"; readonly revokedAt: Date }
  | { readonly kind: "already-revoked"; readonly revokedAt: Date }
  | { readonly kind: "not-found" };

/** Inserts a token unless its name is taken (by an active or a revoked token); false if it was. */
export async function insertToken(db: Queryable, token: TokenRow): Promise<boolean> {
  const { rowCount } = await db.query(
    `WITH t AS (
       INSERT INTO api_tokens (key_id, name, scopes, secret_hash, created_at)
       VALUES ($1, $2, $3, $4, now())
       ON CONFLICT (name) DO NOTHING
       RETURNING key_id)
     SELECT pg_notify('${TOKENS_CHANNEL}', 'created:' || key_id) FROM t`,
    [token.keyId, token.name, token.scopes, token.secretHash],
  );
  return rowCount === 1;
}

/**
 * The first-start admin token: inserted only while no active token exists, in one statement, so
 * concurrent starts create at most one. It is named `bootstrap-admin`, or `bootstrap-admin-N` when
 * earlier bootstrap tokens were revoked (names are never reused). Returns the name, or null when an
 * active token exists (or a concurrent start won).
 */
export async function insertTokenIfNoneActive(db: Queryable, token: Omit<TokenRow, "name">): Promise<string | null> {
  const { rows } = await db.query<{ name: string }>(
    `WITH taken AS (
       SELECT count(*) AS n FROM api_tokens WHERE name ~ '^bootstrap-admin(-[0-9]+)?$'
     ), t AS (
       INSERT INTO api_tokens (key_id, name, scopes, secret_hash, created_at)
       SELECT $1, CASE WHEN n = 0 THEN 'bootstrap-admin' ELSE 'bootstrap-admin-' || (n + 1) END, $2, $3, now()
       FROM taken
       WHERE NOT EXISTS (SELECT 1 FROM api_tokens WHERE revoked_at IS NULL)
       ON CONFLICT (name) DO NOTHING
       RETURNING key_id, name)
     SELECT name, pg_notify('${TOKENS_CHANNEL}', 'created:' || key_id) FROM t`,
    [token.keyId, token.scopes, token.secretHash],
  );
  return rows[0]?.name ?? null;
}

/** Every token, revoked ones included, oldest first. */
export async function listTokens(db: Queryable): Promise<TokenInfo[]> {
  const { rows } = await db.query<{ key_id: string; name: string; scopes: string[]; created_at: Date; revoked_at: Date | null }>(
    "SELECT key_id, name, scopes, created_at, revoked_at FROM api_tokens ORDER BY created_at, name",
  );
  return rows.map((r) => ({ keyId: r.key_id, name: r.name, scopes: scopes(r.scopes), createdAt: r.created_at, revokedAt: r.revoked_at }));
}

/** Revokes the token called `name`; revoking it again changes nothing and says when it was revoked. */
export async function revokeToken(db: Queryable, name: string): Promise<RevokeResult> {
  const { rows } = await db.query<{ revoked_at: Date }>(
    `WITH r AS (
       UPDATE api_tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL RETURNING key_id, revoked_at)
     SELECT revoked_at, pg_notify('${TOKENS_CHANNEL}', 'revoked:' || key_id) FROM r`,
    [name],
  );
  if (rows[0]) return { kind: "revoked", revokedAt: rows[0].revoked_at };
  const existing = await db.query<{ revoked_at: Date | null }>("SELECT revoked_at FROM api_tokens WHERE name = $1", [name]);
  const revokedAt = existing.rows[0]?.revoked_at;
  // A row that is still active here was created after our UPDATE looked; report it as not found then.
  return revokedAt ? { kind: "already-revoked", revokedAt } : { kind: "not-found" };
}

/** Every active token with its secret hash, for the token cache. */
export async function loadActiveTokens(db: Queryable): Promise<ActiveToken[]> {
  const { rows } = await db.query<{ key_id: string; name: string; scopes: string[]; secret_hash: Buffer }>(
    "SELECT key_id, name, scopes, secret_hash FROM api_tokens WHERE revoked_at IS NULL",
  );
  return rows.map((r) => ({ keyId: r.key_id, name: r.name, scopes: scopes(r.scopes), secretHash: r.secret_hash }));
}

/** The table's CHECK admits only known scopes; anything else means a newer sagad wrote it, and is dropped. */
function scopes(raw: readonly string[]): Scope[] {
  return raw.filter(isScope);
}
