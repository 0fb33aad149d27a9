import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/server.js";

/**
 * The Connect protocol's JSON bodies are read strictly (src/api/routes.ts): what the proto3 JSON
 * spec tells parsers to reject is INVALID_ARGUMENT, and nothing is stored.
 */
describe("strict JSON over the Connect protocol", () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer();
  });
  afterAll(() => srv?.close());

  const post = async (body: string) => {
    const res = await fetch(`${srv.server.url}/saga.v1.SagaService/CreateSaga`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "connect-protocol-version": "1",
        authorization: `Bearer ${srv.adminToken}`,
      },
      body: Buffer.from(body, "latin1"),
    });
    return { status: res.status, body: (await res.json()) as { code?: string; message?: string } };
  };
  const step = '"steps": [{"name": "a", "action": "noop"}]';

  it("refuses an unknown enum name instead of reading it as unset", async () => {
    const res = await post(`{"name": "x", "failurePolicy": "FAILURE_POLICY_COMPENSATEE", ${step}}`);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("invalid_argument");
    expect(res.body.message).toContain("FAILURE_POLICY_COMPENSATEE");
  });

  it("refuses an unknown field instead of dropping it", async () => {
    const res = await post(`{"name": "x", "failurePolicyy": "FAILURE_POLICY_COMPENSATE", ${step}}`);
    expect(res.body.code).toBe("invalid_argument");
    expect(res.body.message).toContain("failurePolicyy");
  });

  it("refuses bytes that are not UTF-8 instead of storing U+FFFD", async () => {
    const res = await post(`{"name": "x", "vars": {"k": "caf\xe9"}, ${step}}`);
    expect(res.body.code).toBe("invalid_argument");
  });

  it("still accepts a well-formed request, and stored nothing else", async () => {
    const res = await post(`{"name": "x", "failurePolicy": "FAILURE_POLICY_COMPENSATE", ${step}}`);
    expect(res.status).toBe(200);
    const { rows } = await srv.db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM sagas");
    expect(rows[0]!.n).toBe(1);
  });
});
