import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SagaStatus, type Saga, type SagaClient } from "../../src/client/index.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createTestActions } from "../helpers/test-actions.js";
import { waitUntil } from "../helpers/wait.js";
import { expectCode, mapConcurrent, ONE_ATTEMPT, violationFields, type ListSagasInit } from "../helpers/rpc.js";

const TOTAL = 1000;
const PAGE = 87;

interface Created {
  id: string;
  name: string;
  shard: string;
  fails: boolean;
}

/** Every 4th saga is named "bulk-a", the rest "bulk-b"; shard label s0..s4; every 10th fails. */
function specOf(i: number) {
  return { name: i % 4 === 0 ? "bulk-a" : "bulk-b", shard: `s${i % 5}`, fails: i % 10 === 0 };
}

const nanos = (s: Saga) => s.createTime!.seconds * 1_000_000_000n + BigInt(s.createTime!.nanos);

describe("ListSagas pagination over 1,000 sagas", () => {
  const t = createTestActions();
  let srv: TestServer;
  let client: SagaClient;
  const created: Created[] = [];

  beforeAll(async () => {
    srv = await startTestServer({ actions: t.actions });
    client = srv.client({ protocol: "grpc" });
  });
  afterAll(() => srv?.close());

  /** Walks every page; asserts page sizes and the token protocol on the way. */
  async function walk(filter: ListSagasInit, pageSize = PAGE, between?: (page: number) => Promise<void>): Promise<Saga[]> {
    const all: Saga[] = [];
    let pageToken = "";
    for (let page = 0; ; page++) {
      const res = await client.listSagas({ ...filter, pageSize, pageToken });
      if (res.nextPageToken !== "") expect(res.sagas, `page ${page} is full`).toHaveLength(pageSize);
      else expect(res.sagas.length).toBeLessThanOrEqual(pageSize);
      all.push(...res.sagas);
      if (res.nextPageToken === "") return all;
      expect(page, "too many pages").toBeLessThan(TOTAL);
      pageToken = res.nextPageToken;
      await between?.(page);
    }
  }

  function expectNewestFirst(sagas: Saga[]): void {
    for (let i = 1; i < sagas.length; i++) {
      expect(nanos(sagas[i]!) <= nanos(sagas[i - 1]!), `create_time of #${i} > #${i - 1}`).toBe(true);
    }
  }

  const idsOf = (list: { id: string }[]) => list.map((s) => s.id).sort();

  it("creates 1,000 sagas concurrently, 50 at a time", async () => {
    const started = Date.now();
    const results = await mapConcurrent(
      Array.from({ length: TOTAL }, (_, i) => i),
      50,
      async (i) => {
        const spec = specOf(i);
        const { saga } = await client.createSaga({
          name: spec.name,
          labels: { shard: spec.shard, bulk: "yes" },
          steps: [spec.fails ? { name: "s", action: "fail", retryPolicy: ONE_ATTEMPT } : { name: "s", action: "noop" }],
        });
        return { id: saga!.id, ...spec };
      },
    );
    created.push(...results);
    expect(new Set(created.map((c) => c.id)).size).toBe(TOTAL);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it("page_size 87 walks every saga once, newest first, while new sagas are being created", async () => {
    const late: string[] = [];
    const sagas = await walk({}, PAGE, async (page) => {
      // Sagas created mid-walk are newer than the cursor: they must not shift or repeat pages.
      if (page % 3 === 0) late.push((await client.createSaga({ name: "late", steps: [{ name: "s", action: "noop" }] })).saga!.id);
    });
    expect(sagas).toHaveLength(TOTAL);
    expect(Math.ceil(TOTAL / PAGE)).toBe(12);
    const ids = sagas.map((s) => s.id);
    expect(new Set(ids).size, "no duplicates").toBe(TOTAL);
    expect([...ids].sort(), "no gaps").toEqual(idsOf(created));
    expect(ids.some((id) => late.includes(id))).toBe(false);
    expectNewestFirst(sagas);
    for (const s of sagas) expect(s.steps).toEqual([]);
  });

  it("the status filter returns exactly the sagas in that status", async () => {
    const failing = created.filter((c) => c.fails);
    const count = async (status: SagaStatus) => (await client.listSagas({ status, labels: { bulk: "yes" }, pageSize: 1000 })).sagas.length;
    await waitUntil(async () => (await count(SagaStatus.FAILED)) === failing.length, "failing sagas settled", 20_000);
    await waitUntil(async () => (await count(SagaStatus.COMPLETED)) === TOTAL - failing.length, "other sagas settled", 20_000);
    const failed = await walk({ status: SagaStatus.FAILED });
    expect(idsOf(failed)).toEqual(idsOf(failing));
    for (const s of failed) expect(s.status).toBe(SagaStatus.FAILED);
    expectNewestFirst(failed);
    const completed = await walk({ status: SagaStatus.COMPLETED, labels: { bulk: "yes" } });
    expect(idsOf(completed)).toEqual(idsOf(created.filter((c) => !c.fails)));
    expect((await client.listSagas({ status: SagaStatus.CANCELLED })).sagas).toEqual([]);
  });

  it("the name filter", async () => {
    const a = await walk({ name: "bulk-a" });
    expect(a).toHaveLength(250);
    expect(idsOf(a)).toEqual(idsOf(created.filter((c) => c.name === "bulk-a")));
    for (const s of a) expect(s.name).toBe("bulk-a");
    expectNewestFirst(a);
    expect((await client.listSagas({ name: "bulk" })).sagas, "exact match, not prefix").toEqual([]);
  });

  it("the label filter, alone and combined with name and status", async () => {
    const s3 = await walk({ labels: { shard: "s3" } });
    expect(idsOf(s3)).toEqual(idsOf(created.filter((c) => c.shard === "s3")));
    for (const s of s3) expect(s.labels["shard"]).toBe("s3");
    expectNewestFirst(s3);

    const combined = await walk({ name: "bulk-a", status: SagaStatus.FAILED, labels: { shard: "s0", bulk: "yes" } }, 7);
    const expected = created.filter((c) => c.name === "bulk-a" && c.fails && c.shard === "s0");
    expect(expected.length).toBeGreaterThan(0);
    expect(idsOf(combined)).toEqual(idsOf(expected));

    expect((await client.listSagas({ labels: { shard: "s3", bulk: "no" } })).sagas).toEqual([]);
  });

  it("page_size defaults to 50 and is clamped to 1,000", async () => {
    expect((await client.listSagas({})).sagas).toHaveLength(50);
    const total = TOTAL + (await client.listSagas({ name: "late", pageSize: 1000 })).sagas.length;
    const big = await client.listSagas({ pageSize: 5000 });
    expect(big.sagas).toHaveLength(1000);
    expect(big.nextPageToken).not.toBe("");
    const rest = await client.listSagas({ pageSize: 5000, pageToken: big.nextPageToken });
    expect(rest.sagas).toHaveLength(total - 1000);
    expect(rest.nextPageToken).toBe("");
    expect(new Set([...big.sagas, ...rest.sagas].map((s) => s.id)).size).toBe(total);
  });

  it("a token of the right shape naming a date that does not exist is INVALID_ARGUMENT, not INTERNAL", async () => {
    const first = await client.listSagas({ name: "bulk-b", pageSize: 10 });
    const real = JSON.parse(Buffer.from(first.nextPageToken, "base64url").toString("utf8")) as { c: string };
    for (const c of ["2024-13-01T00:00:00.000000Z", "2024-02-30T00:00:00.000000Z", "0000-01-01T00:00:00.000000Z", "2024-01-01T24:00:00.000000Z"]) {
      const forged = Buffer.from(JSON.stringify({ ...real, c })).toString("base64url");
      const err = await expectCode(client.listSagas({ name: "bulk-b", pageSize: 10, pageToken: forged }), Code.InvalidArgument);
      expect(violationFields(err), c).toEqual(["page_token"]);
    }
  });

  it("a token is rejected with other filters, and accepted with the same ones", async () => {
    const first = await client.listSagas({ name: "bulk-b", pageSize: 10 });
    const token = first.nextPageToken;
    expect(token).not.toBe("");
    const others: ListSagasInit[] = [
      {},
      { name: "bulk-a" },
      { name: "bulk-b", status: SagaStatus.COMPLETED },
      { name: "bulk-b", labels: { shard: "s1" } },
    ];
    for (const filter of others) {
      const err = await expectCode(client.listSagas({ ...filter, pageSize: 10, pageToken: token }), Code.InvalidArgument);
      expect(err.rawMessage).toContain("page_token");
      expect(violationFields(err)).toEqual(["page_token"]);
    }
    // The page size may change between pages; the filters may not.
    const next = await client.listSagas({ name: "bulk-b", pageSize: 20, pageToken: token });
    expect(next.sagas).toHaveLength(20);
    expect(next.sagas.some((s) => first.sagas.some((f) => f.id === s.id))).toBe(false);
    expect(nanos(next.sagas[0]!) <= nanos(first.sagas.at(-1)!)).toBe(true);
  });
});
