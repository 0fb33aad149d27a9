import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SagaStatus, type SagaClient } from "../../src/client/index.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { waitForStatus } from "../helpers/wait.js";
import { errorInfo, expectCode, PROTOCOLS, violationFields, type CreateSagaInit } from "../helpers/rpc.js";

describe.each(PROTOCOLS)("idempotent CreateSaga over %s", (protocol) => {
  let srv: TestServer;
  let client: SagaClient;
  beforeAll(async () => {
    srv = await startTestServer();
    client = srv.client({ protocol });
  });
  afterAll(() => srv?.close());

  let n = 0;
  /** A request of its own (name and request_id unique per call of this function). */
  function request(overrides: { requestId?: string } = {}) {
    n += 1;
    return {
      name: `idem-${protocol}-${n}`,
      requestId: `req-${protocol}-${n}`,
      vars: { region: "eu", tier: "gold" },
      labels: { a: "1", b: "2" },
      steps: [
        { name: "a", action: "noop", config: { x: "{{vars.region}}" } },
        { name: "b", action: "noop", dependsOn: ["a"] },
      ],
      ...overrides,
    };
  }

  const countByName = async (name: string) => (await client.listSagas({ name })).sagas.length;

  it("the same request_id with the same body returns the same saga and stores no second one", async () => {
    const req = request();
    const first = (await client.createSaga(req)).saga!;
    expect(first.requestId).toBe(req.requestId);
    await waitForStatus(client, first.id, SagaStatus.COMPLETED);
    const second = (await client.createSaga(req)).saga!;
    expect(second.id).toBe(first.id);
    expect(second.requestId).toBe(req.requestId);
    // The saga as it is now, not a fresh one: it already ran to the end.
    expect(second.status).toBe(SagaStatus.COMPLETED);
    expect(second.createTime).toEqual(first.createTime);
    expect(await countByName(req.name!)).toBe(1);
    // It was not run a second time: its history has one creation.
    const { rows } = await srv.db.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM saga_events WHERE saga_id = $1 AND type = 'SAGA_CREATED'",
      [first.id],
    );
    expect(rows[0]!.n).toBe(1);
  });

  it("map order does not make a body different", async () => {
    const req = request();
    const first = (await client.createSaga(req)).saga!;
    const reordered = { ...req, vars: { tier: "gold", region: "eu" }, labels: { b: "2", a: "1" } };
    const second = (await client.createSaga(reordered)).saga!;
    expect(second.id).toBe(first.id);
    expect(await countByName(req.name!)).toBe(1);
  });

  it("the same request_id with a different body answers ALREADY_EXISTS and stores nothing", async () => {
    const req = request();
    const first = (await client.createSaga(req)).saga!;
    const variants: CreateSagaInit[] = [
      { ...req, vars: { region: "us", tier: "gold" } },
      { ...req, labels: { a: "1" } },
      { ...req, steps: [{ name: "a", action: "noop" }] },
      { ...req, maxRetries: 7 },
      { ...req, definition: "v2" },
    ];
    for (const variant of variants) {
      const err = await expectCode(client.createSaga(variant), Code.AlreadyExists);
      expect(err.rawMessage).toContain(req.requestId!);
      expect(errorInfo(err).reason).toBe("ALREADY_EXISTS");
      expect(violationFields(err)).toEqual(["request_id"]);
    }
    // Another name with the same request id is a different body too.
    await expectCode(client.createSaga({ ...req, name: `${req.name}-other` }), Code.AlreadyExists);
    expect(await countByName(`${req.name}-other`)).toBe(0);
    expect(await countByName(req.name!)).toBe(1);
    const { saga } = await client.getSaga({ id: first.id });
    expect(saga!.vars).toEqual({ region: "eu", tier: "gold" });
  });

  it("10 concurrent identical creates make one saga", async () => {
    const req = request();
    const results = await Promise.all(Array.from({ length: 10 }, () => client.createSaga(req)));
    const ids = new Set(results.map((r) => r.saga!.id));
    expect(ids.size).toBe(1);
    expect(await countByName(req.name!)).toBe(1);
    const [id] = [...ids];
    const done = await waitForStatus(client, id!, SagaStatus.COMPLETED);
    // Ran once: one start per step.
    expect(done.steps.map((s) => s.retryCount)).toEqual([1, 1]);
  });

  it("10 concurrent creates with one request_id and different bodies: one wins, the others ALREADY_EXISTS", async () => {
    const req = request();
    const settled = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => client.createSaga({ ...req, definition: `variant-${i}` })),
    );
    const won = settled.filter((s) => s.status === "fulfilled");
    expect(won).toHaveLength(1);
    for (const lost of settled.filter((s) => s.status === "rejected")) {
      expect(Code[(lost as PromiseRejectedResult).reason.code]).toBe(Code[Code.AlreadyExists]);
    }
    expect(await countByName(req.name!)).toBe(1);
  });

  it("without a request_id every create makes a new saga", async () => {
    const req = request({ requestId: "" });
    const a = (await client.createSaga(req)).saga!;
    const b = (await client.createSaga(req)).saga!;
    expect(a.id).not.toBe(b.id);
    expect(a.requestId).toBe("");
    expect(await countByName(req.name!)).toBe(2);
  });

  it("different request_ids with the same body make different sagas", async () => {
    const req = request();
    const a = (await client.createSaga(req)).saga!;
    const b = (await client.createSaga({ ...req, requestId: `${req.requestId}-2` })).saga!;
    expect(a.id).not.toBe(b.id);
    expect(await countByName(req.name!)).toBe(2);
  });
});
