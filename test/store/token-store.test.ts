import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { issueBootstrapToken, issueToken } from "../../src/auth/issue-token.js";
import { hashSecret, parseToken } from "../../src/auth/token-format.js";
import { insertToken, listTokens, loadActiveTokens, revokeToken, TOKENS_CHANNEL } from "../../src/store/token-store.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { waitUntil } from "../helpers/wait.js";

describe("token store", () => {
  let db: TestDatabase;
  let listener: pg.Client;
  const notifications: string[] = [];

  beforeEach(async () => {
    db = await createTestDatabase();
    listener = new pg.Client(db.url);
    await listener.connect();
    listener.on("notification", (msg) => notifications.push(`${msg.channel} ${msg.payload}`));
    await listener.query(`LISTEN ${TOKENS_CHANNEL}`);
  });

  afterEach(async () => {
    notifications.length = 0;
    await listener.end();
    await db.drop();
  });

  it("stores a new token's hash, never its secret, and notifies the replicas", async () => {
    const issued = (await issueToken(db.pool, "ci-deployer", ["sagas:execute", "sagas:read"]))!;
    const secret = parseToken(issued.token)!.secret;

    const { rows } = await db.pool.query("SELECT *, api_tokens::text AS whole FROM api_tokens");
    expect(rows).toHaveLength(1);
    expect(rows[0].key_id).toBe(issued.keyId);
    expect(rows[0].name).toBe("ci-deployer");
    expect(rows[0].scopes).toEqual(["sagas:execute", "sagas:read"]);
    expect((rows[0].secret_hash as Buffer).equals(hashSecret(secret))).toBe(true);
    expect(rows[0].whole).not.toContain(secret);
    expect(rows[0].revoked_at).toBeNull();
    await waitUntil(() => notifications.includes(`${TOKENS_CHANNEL} created:${issued.keyId}`), "created notification");
  });

  it("refuses a name that is taken, by an active or by a revoked token", async () => {
    expect(await issueToken(db.pool, "dup", ["sagas:read"])).not.toBeNull();
    expect(await issueToken(db.pool, "dup", ["admin"])).toBeNull();
    await revokeToken(db.pool, "dup");
    expect(await issueToken(db.pool, "dup", ["admin"])).toBeNull();
    expect((await listTokens(db.pool)).map((t) => [t.name, t.scopes])).toEqual([["dup", ["sagas:read"]]]);
  });

  it("accepts only the known scopes, at least one (the table checks it too)", async () => {
    const row = (scopes: string[]) => ({ keyId: "0123456789abcdef", name: "raw", scopes: scopes as never, secretHash: hashSecret("x") });
    await expect(insertToken(db.pool, row(["sagas:write"]))).rejects.toMatchObject({ code: "23514" });
    await expect(insertToken(db.pool, row([]))).rejects.toMatchObject({ code: "23514" });
    await expect(listTokens(db.pool)).resolves.toEqual([]);
  });

  it("revokes once, says when on a second revoke, and knows no unknown name", async () => {
    const issued = (await issueToken(db.pool, "ops", ["admin"]))!;
    const keep = (await issueToken(db.pool, "keep", ["sagas:read"]))!;

    const first = await revokeToken(db.pool, "ops");
    const second = await revokeToken(db.pool, "ops");

    expect(first.kind).toBe("revoked");
    expect(second).toEqual({ kind: "already-revoked", revokedAt: (first as { revokedAt: Date }).revokedAt });
    await expect(revokeToken(db.pool, "nobody")).resolves.toEqual({ kind: "not-found" });
    expect((await loadActiveTokens(db.pool)).map((t) => t.keyId)).toEqual([keep.keyId]);
    const listed = await listTokens(db.pool);
    expect(listed.map((t) => [t.name, t.revokedAt !== null])).toEqual([["ops", true], ["keep", false]]);
    expect(notifications.join("\n")).not.toContain(`revoked:${keep.keyId}`);
    // Notifications arrive in commit order: once a later change's has arrived, every earlier one has.
    const marker = (await issueToken(db.pool, "marker", ["sagas:read"]))!;
    await waitUntil(() => notifications.includes(`${TOKENS_CHANNEL} created:${marker.keyId}`), "marker notification");
    expect(notifications).toContain(`${TOKENS_CHANNEL} revoked:${issued.keyId}`);
    // The second revoke changed nothing, so it told nobody.
    expect(notifications.filter((n) => n.includes("revoked:"))).toHaveLength(1);
  });

  it("creates the bootstrap admin only while no token is active, never reusing a name", async () => {
    const first = await issueBootstrapToken(db.pool);
    expect(first?.name).toBe("bootstrap-admin");
    await expect(issueBootstrapToken(db.pool)).resolves.toBeNull();

    await revokeToken(db.pool, "bootstrap-admin");
    const second = await issueBootstrapToken(db.pool);
    expect(second?.name).toBe("bootstrap-admin-2");

    await issueToken(db.pool, "reader", ["sagas:read"]);
    await revokeToken(db.pool, "bootstrap-admin-2");
    // A reader is active: still no bootstrap, even with no admin left.
    await expect(issueBootstrapToken(db.pool)).resolves.toBeNull();
    const active = await loadActiveTokens(db.pool);
    expect(active.map((t) => [t.name, t.scopes])).toEqual([["reader", ["sagas:read"]]]);
  });

  it("creates one bootstrap admin when several starts race", async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => issueBootstrapToken(db.pool)));
    expect(results.filter((r) => r !== null).map((r) => r!.name)).toEqual(["bootstrap-admin"]);
    expect(await loadActiveTokens(db.pool)).toHaveLength(1);
  });
});
