import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SagaStatus, type WatchSagaResponse } from "../../src/client/index.js";
import { generateToken } from "../../src/auth/token-format.js";
import { revokeToken } from "../../src/store/token-store.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { accepted, createTestToken } from "../helpers/tokens.js";
import { waitForStatus, waitUntil } from "../helpers/wait.js";

/** Far below the 5 s backstop: what the NOTIFY path must achieve. */
const NOTIFY_BUDGET_MS = 2_000;

describe("token changes across replicas", () => {
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    a = await startTestServer({ replicaId: "tokens-a" });
    b = await startTestServer({ replicaId: "tokens-b", database: a.db });
  });

  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it("a token created and then revoked through replica A's database is accepted, then refused, by replica B within seconds", async () => {
    const { token } = await createTestToken(a.server.pool, ["sagas:read"], "roaming");
    const onB = b.client({ token });
    let started = performance.now();
    await waitUntil(() => accepted(onB), "replica B accepts the new token", NOTIFY_BUDGET_MS);
    const acceptedAfterMs = performance.now() - started;

    started = performance.now();
    await revokeToken(a.server.pool, "roaming");
    await waitUntil(async () => !(await accepted(onB)), "replica B refuses the revoked token", NOTIFY_BUDGET_MS);
    const refusedAfterMs = performance.now() - started;
    await waitUntil(async () => !(await accepted(a.client({ token }))), "replica A refuses it too", NOTIFY_BUDGET_MS);

    console.log(`token change seen by replica B after ${Math.round(acceptedAfterMs)} ms (create), ${Math.round(refusedAfterMs)} ms (revoke)`);
    expect(refusedAfterMs).toBeLessThan(NOTIFY_BUDGET_MS);
  });

  it("ends a WatchSaga that replica B streams to a token revoked through replica A, within seconds", async () => {
    const { token } = await b.issueToken(["sagas:read"], "long-watcher");
    const { saga } = await a.client().createSaga({ name: "watched-by-revoked", steps: [{ name: "s", action: "noop" }] });
    await waitForStatus(a.client(), saga!.id, SagaStatus.COMPLETED);
    const received: WatchSagaResponse[] = [];
    // follow: the stream would stay open for as long as its client likes.
    const ended = (async () => {
      for await (const msg of b.client({ token }).watchSaga({ id: saga!.id, follow: true })) received.push(msg);
    })().then(
      () => null,
      (err: unknown) => ConnectError.from(err),
    );
    await waitUntil(() => received.length > 0, "the watch sent its snapshot");

    const started = performance.now();
    await revokeToken(a.server.pool, "long-watcher");
    const err = await ended;
    expect(err?.code).toBe(Code.Unauthenticated);
    expect(err?.rawMessage).toBe("the API token was revoked");
    expect(performance.now() - started).toBeLessThan(NOTIFY_BUDGET_MS);
    await waitUntil(() => b.server.bus.listenerCount() === 0, "the watch handler let go of the bus");
  });

  it("without notifications (lost ones), the backstop reload still picks up a new token and a revocation", async () => {
    const db = a.db;
    const c = await startTestServer({ replicaId: "tokens-c", database: db, tokenReloadMs: 200 });
    try {
      // Straight SQL, without pg_notify: only the backstop reload can see these changes.
      const fresh = generateToken();
      await db.pool.query(
        "INSERT INTO api_tokens (key_id, name, scopes, secret_hash, created_at) VALUES ($1, 'unannounced', '{sagas:read}', $2, now())",
        [fresh.keyId, fresh.secretHash],
      );
      const client = c.client({ token: fresh.token });
      await waitUntil(() => accepted(client), "the backstop reload picked the token up", 2_000);

      await db.pool.query("UPDATE api_tokens SET revoked_at = now() WHERE name = 'unannounced'");
      await waitUntil(async () => !(await accepted(client)), "the backstop reload dropped the token", 2_000);
    } finally {
      await c.close();
    }
  });
});
