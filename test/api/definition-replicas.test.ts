import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DefinitionState, type DefinitionClient, type SagaClient } from "../../src/client/index.js";
import { DefinitionChangedError } from "../../src/domain/errors.js";
import { expectCode } from "../helpers/rpc.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

/**
 * Replica A caches the heads of the versions it started sagas from; replica B, sharing the
 * database, changes them. A's next create must see the change at once: the insert re-checks the
 * head A rendered from, and A renders again from the stored truth when it no longer holds.
 */
describe("CreateSaga from a definition changed on another replica", () => {
  let a: TestServer;
  let b: TestServer;
  let sagasOnA: SagaClient;
  let defsOnB: DefinitionClient;
  beforeAll(async () => {
    a = await startTestServer();
    b = await startTestServer({ database: a.db });
    sagasOnA = a.client();
    defsOnB = b.definitions();
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const register = async (name: string, step: string) =>
    (await defsOnB.registerDefinition({ spec: { name, steps: [{ name: step, action: "noop" }] } })).definition!.version;
  const createOnA = (name: string, version = 0) => sagasOnA.createSaga({ definitionRef: { name, version } });

  it("starts the new latest version registered elsewhere, not the one it cached", async () => {
    expect(await register("moving", "first")).toBe(1);
    expect((await createOnA("moving")).saga!.definitionVersion).toBe(1);
    expect(await register("moving", "second")).toBe(2);
    const { saga } = await createOnA("moving");
    expect(saga!.definitionVersion).toBe(2);
    expect(saga!.steps.map((s) => s.name)).toEqual(["second"]);
    // A version asked for by number still starts, though a newer one exists.
    expect((await createOnA("moving", 1)).saga!.steps.map((s) => s.name)).toEqual(["first"]);
    // The refused insert wrote nothing: three creates, three sagas.
    const listed = await sagasOnA.listSagas({ definitionName: "moving" });
    expect(listed.sagas.map((s) => s.definitionVersion).sort()).toEqual([1, 1, 2]);
  });

  it("answers a repeated request_id with the first saga, though a newer version was registered since", async () => {
    await register("replayed", "first");
    const request = { definitionRef: { name: "replayed", version: 0 }, requestId: "replay-1" };
    const first = (await sagasOnA.createSaga(request)).saga!;
    await register("replayed", "second");
    const again = (await sagasOnA.createSaga(request)).saga!;
    expect(again.id).toBe(first.id);
    expect(again.definitionVersion).toBe(1);
    expect((await sagasOnA.listSagas({ definitionName: "replayed" })).sagas).toHaveLength(1);
  });

  it("refuses a version disabled elsewhere at once, and starts it again once re-activated", async () => {
    await register("switched", "only");
    await createOnA("switched", 1);
    await createOnA("switched");
    await defsOnB.setDefinitionState({ name: "switched", version: 1, state: DefinitionState.DISABLED });
    for (const version of [1, 0]) {
      const err = await expectCode(createOnA("switched", version), Code.FailedPrecondition);
      expect(err.rawMessage).toBe('definition "switched" version 1 is DISABLED; activate it or start another version');
    }
    await defsOnB.setDefinitionState({ name: "switched", version: 1, state: DefinitionState.ACTIVE });
    expect((await createOnA("switched", 1)).saga!.definitionVersion).toBe(1);
    expect((await createOnA("switched")).saga!.definitionVersion).toBe(1);
  });

  it("warns about a version deprecated elsewhere from the next create on", async () => {
    await register("aging", "only");
    expect((await createOnA("aging")).warnings).toEqual([]);
    await defsOnB.setDefinitionState({ name: "aging", version: 1, state: DefinitionState.DEPRECATED });
    const { saga, warnings } = await createOnA("aging");
    expect(saga!.definitionVersion).toBe(1);
    expect(warnings.join("\n")).toMatch(/DEPRECATED/);
  });

  it("renders again a few times while the version keeps changing, then answers ABORTED", async () => {
    await register("churning", "only");
    const engine = a.server.engine;
    const create = engine.create.bind(engine);
    let calls = 0;
    let refusals = Infinity;
    engine.create = (draft, token) => (++calls <= refusals ? Promise.reject(new DefinitionChangedError("churning", 1)) : create(draft, token));
    try {
      const err = await expectCode(createOnA("churning"), Code.Aborted);
      expect(err.rawMessage).toBe('definition "churning" kept changing during the create (version 1 superseded or its state changed); retry');
      expect(calls).toBe(3);
      calls = 0;
      refusals = 2;
      expect((await createOnA("churning")).saga!.definitionVersion).toBe(1);
      expect(calls).toBe(3);
    } finally {
      engine.create = create;
    }
  });

  it("costs a warm replica no statement of its own: only the batched insert reads the version", async () => {
    await register("warm", "only");
    await createOnA("warm");
    await createOnA("warm", 1);
    const pool = a.server.pool;
    const query = pool.query.bind(pool);
    const names: string[] = [];
    pool.query = ((...args: Parameters<typeof query>) => {
      const config = args[0] as { name?: string; text?: string } | string;
      names.push(typeof config === "string" ? config : (config.name ?? config.text ?? ""));
      return query(...args);
    }) as typeof pool.query;
    try {
      for (let i = 0; i < 5; i++) await createOnA("warm", i % 2);
    } finally {
      pool.query = query;
    }
    expect(names.filter((n) => /definition/i.test(n))).toEqual([]);
    expect(names.filter((n) => n === "sagad_insert_sagas")).toHaveLength(5);
  });

  it("learns of a change made on this replica without a refused insert", async () => {
    await register("local", "only");
    await createOnA("local");
    await a.definitions().setDefinitionState({ name: "local", version: 1, state: DefinitionState.DEPRECATED });
    const pool = a.server.pool;
    const query = pool.query.bind(pool);
    let inserts = 0;
    pool.query = ((...args: Parameters<typeof query>) => {
      if ((args[0] as { name?: string })?.name === "sagad_insert_sagas") inserts++;
      return query(...args);
    }) as typeof pool.query;
    try {
      expect((await createOnA("local")).warnings.join("\n")).toMatch(/DEPRECATED/);
    } finally {
      pool.query = query;
    }
    expect(inserts).toBe(1);
  });
});
