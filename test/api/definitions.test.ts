import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DefinitionState, SagaStatus, type DefinitionClient, type SagaClient } from "../../src/client/index.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createTestActions } from "../helpers/test-actions.js";
import { waitForStatus } from "../helpers/wait.js";
import { collectWatch, eventsOf, expectCode, ONE_ATTEMPT } from "../helpers/rpc.js";
import { BadRequestSchema } from "../../src/gen/google/rpc/error_details_pb.js";
import type { ConnectError } from "@connectrpc/connect";

const fields = (err: ConnectError) => err.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field));

const schema = {
  type: "object",
  properties: {
    region: { type: "string", enum: ["eu", "us"], default: "eu" },
    count: { type: "integer", minimum: 1, default: 2 },
    note: { type: "string" },
  },
  required: ["region"],
};

describe("DefinitionService and CreateSaga from a definition", () => {
  const t = createTestActions();
  let srv: TestServer;
  let defs: DefinitionClient;
  let sagas: SagaClient;
  beforeAll(async () => {
    srv = await startTestServer({ actions: t.actions });
    defs = srv.definitions();
    sagas = srv.client();
  });
  afterAll(() => srv?.close());

  const spec = (name: string, config: Record<string, string> = { region: "{{vars.region}}", count: "{{vars.count}}" }) => ({
    name,
    labels: { team: "ops" },
    varsSchema: schema,
    steps: [
      { name: "a", action: "record", config },
      { name: "b", action: "record", dependsOn: ["a"] },
    ],
  });

  it("registers version 1, returns it unchanged for an identical spec, and version 2 for another", async () => {
    const first = await defs.registerDefinition({ spec: spec("def-versions") });
    expect(first.created).toBe(true);
    expect(first.definition?.version).toBe(1);
    expect(first.definition?.createdBy).toBe(srv.adminTokenName);
    const again = await defs.registerDefinition({ spec: spec("def-versions") });
    expect(again.created).toBe(false);
    expect(again.definition?.version).toBe(1);
    expect(again.definition?.specHash).toBe(first.definition?.specHash);
    const second = await defs.registerDefinition({ spec: spec("def-versions", { region: "{{vars.region}}" }), expectedLatestVersion: 1 });
    expect(second.definition?.version).toBe(2);
    const stale = await expectCode(defs.registerDefinition({ spec: spec("def-versions", { x: "1" }), expectedLatestVersion: 1 }), Code.FailedPrecondition);
    expect(stale.rawMessage).toMatch(/expected latest version 1, but its latest version is 2/);
    await expectCode(defs.registerDefinition({ spec: spec("def-versions", { x: "2" }), expectedLatestVersion: -1 }), Code.FailedPrecondition);
    const versions = await defs.listDefinitionVersions({ name: "def-versions" });
    expect(versions.definitions.map((d) => d.version)).toEqual([2, 1]);
    expect((await defs.getDefinition({ name: "def-versions" })).definition?.version).toBe(2);
    expect((await defs.getDefinition({ name: "def-versions", version: 1 })).definition?.spec?.steps[0]?.config).toEqual(spec("x").steps[0]!.config);
    await expectCode(defs.getDefinition({ name: "def-versions", version: 9 }), Code.NotFound);
  });

  it("gives concurrent registrations of different specs distinct consecutive versions", async () => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => defs.registerDefinition({ spec: spec("def-race", { n: String(i) }) })));
    expect(results.map((r) => r.definition!.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("refuses a bad spec with every violation at its field path, and stores nothing", async () => {
    const bad = {
      name: "def-bad",
      varsSchema: { type: "object", properties: { count: { type: "integr" } } },
      steps: [
        { name: "a", action: "record", config: { url: "{{vars.missing}}" } },
        { name: "b", action: "record", dependsOn: ["nope"] },
      ],
    };
    const err = await expectCode(defs.registerDefinition({ spec: bad }), Code.InvalidArgument);
    expect(fields(err)).toEqual(expect.arrayContaining(["vars_schema.properties.count.type", "steps[1].depends_on[0]"]));
    const undeclared = await expectCode(
      defs.registerDefinition({ spec: { ...bad, varsSchema: schema, steps: [bad.steps[0]!] } }),
      Code.InvalidArgument,
    );
    expect(fields(undeclared)).toEqual(["steps[0].config.url"]);
    expect(undeclared.rawMessage).toMatch(/vars_schema.properties does not declare it/);
    const typo = await expectCode(defs.registerDefinition({ spec: { ...spec("def-bad"), varsSchema: { type: "object", properties: { n: { type: "string", defualt: "x" } } } } }), Code.InvalidArgument);
    expect(fields(typo)).toEqual(["vars_schema.properties.n.defualt"]);
    await expectCode(defs.getDefinition({ name: "def-bad" }), Code.NotFound);
  });

  it("starts sagas from a version with vars checked, converted and defaulted; names the bad var", async () => {
    await defs.registerDefinition({ spec: spec("def-run") });
    const { saga } = await sagas.createSaga({ definitionRef: { name: "def-run" }, vars: { region: "us" } });
    expect(saga?.name).toBe("def-run");
    expect(saga?.definitionName).toBe("def-run");
    expect(saga?.definitionVersion).toBe(1);
    expect(saga?.vars).toEqual({ region: "us", count: "2" });
    const done = await waitForStatus(sagas, saga!.id, SagaStatus.COMPLETED);
    expect(done.steps[0]?.output).toMatchObject({ region: "us", count: "2" });

    const err = await expectCode(sagas.createSaga({ definitionRef: { name: "def-run" }, vars: { region: "mars", count: "0" } }), Code.InvalidArgument);
    expect(fields(err).sort()).toEqual(['vars["count"]', 'vars["region"]']);
    const both = await expectCode(sagas.createSaga({ definitionRef: { name: "def-run" }, steps: [{ name: "a", action: "noop" }] }), Code.InvalidArgument);
    expect(fields(both)).toEqual(["definition_ref"]);
    await expectCode(sagas.createSaga({ definitionRef: { name: "def-none" } }), Code.NotFound);

    const listed = await sagas.listSagas({ definitionName: "def-run", definitionVersion: 1 });
    expect(listed.sagas.map((s) => s.id)).toEqual([saga!.id]);
    expect((await sagas.listSagas({ definitionName: "def-run", definitionVersion: 2 })).sagas).toEqual([]);
    const future = { seconds: BigInt(Math.floor(Date.now() / 1000) + 3600), nanos: 0 };
    expect((await sagas.listSagas({ definitionName: "def-run", createdAfter: future })).sagas).toEqual([]);
    expect((await sagas.listSagas({ definitionName: "def-run", createdBefore: future })).sagas).toHaveLength(1);
  });

  it("keeps request_id idempotency: same request returns the first saga, other vars are ALREADY_EXISTS", async () => {
    await defs.registerDefinition({ spec: spec("def-idem") });
    const req = { definitionRef: { name: "def-idem" }, vars: { region: "eu" }, requestId: "def-idem-1" };
    const a = await sagas.createSaga(req);
    await defs.registerDefinition({ spec: spec("def-idem", { other: "x" }) });
    const b = await sagas.createSaga(req);
    expect(b.saga?.id).toBe(a.saga?.id);
    expect(b.saga?.definitionVersion).toBe(1);
    await expectCode(sagas.createSaga({ ...req, vars: { region: "us" } }), Code.AlreadyExists);
  });

  it("runs RetrySaga on the snapshot of the old version after a new one is registered", async () => {
    await defs.registerDefinition({ spec: { name: "def-snap", steps: [{ name: "f", action: "flaky", config: { failTimes: 1 }, retryPolicy: ONE_ATTEMPT }] } });
    const { saga } = await sagas.createSaga({ definitionRef: { name: "def-snap" }, maxRetries: 1 });
    await waitForStatus(sagas, saga!.id, SagaStatus.FAILED);
    await defs.registerDefinition({ spec: { name: "def-snap", steps: [{ name: "g", action: "record" }] } });
    await sagas.retrySaga({ id: saga!.id, reason: "fixed upstream" });
    const done = await waitForStatus(sagas, saga!.id, SagaStatus.COMPLETED);
    expect(done.steps.map((s) => `${s.name}:${s.action}`)).toEqual(["f:flaky"]);
    expect(done.definitionVersion).toBe(1);
    const events = eventsOf(await collectWatch(sagas, { id: saga!.id, afterSequence: 0n }));
    const byOperator = events.filter((e) => e.reason === "fixed upstream");
    expect(byOperator.length).toBeGreaterThan(0);
    expect(byOperator.every((e) => e.tokenName === srv.adminTokenName)).toBe(true);
  });

  it("DEPRECATED starts with a warning, DISABLED refuses new sagas, ACTIVE again starts them", async () => {
    await defs.registerDefinition({ spec: spec("def-state") });
    const dep = await defs.setDefinitionState({ name: "def-state", version: 1, state: DefinitionState.DEPRECATED });
    expect(dep.definition?.state).toBe(DefinitionState.DEPRECATED);
    const warned = await sagas.createSaga({ definitionRef: { name: "def-state", version: 1 }, vars: { region: "eu" } });
    expect(warned.warnings).toEqual([expect.stringMatching(/DEPRECATED/)]);
    await defs.setDefinitionState({ name: "def-state", version: 1, state: DefinitionState.DISABLED });
    const refused = await expectCode(sagas.createSaga({ definitionRef: { name: "def-state" }, vars: { region: "eu" } }), Code.FailedPrecondition);
    expect(refused.rawMessage).toMatch(/version 1 is DISABLED/);
    await defs.setDefinitionState({ name: "def-state", version: 1, state: DefinitionState.ACTIVE });
    expect((await sagas.createSaga({ definitionRef: { name: "def-state" }, vars: { region: "eu" } })).warnings).toEqual([]);
    await expectCode(defs.setDefinitionState({ name: "def-state", version: 1 }), Code.InvalidArgument);
    await expectCode(defs.setDefinitionState({ name: "def-state", version: 7, state: DefinitionState.ACTIVE }), Code.NotFound);
  });

  it("renders the plan a create would get, or the create's INVALID_ARGUMENT", async () => {
    await defs.registerDefinition({ spec: spec("def-render") });
    const out = await defs.renderDefinition({ name: "def-render", vars: { region: "us", count: "5" } });
    expect(out.version).toBe(1);
    expect(out.vars).toEqual({ region: "us", count: "5" });
    expect(out.steps[0]?.config).toEqual({ region: "us", count: "5" });
    expect(out.steps[1]?.retryPolicy?.maxAttempts).toBeGreaterThan(0);
    const err = await expectCode(defs.renderDefinition({ name: "def-render", vars: { count: "many" } }), Code.InvalidArgument);
    expect(fields(err)).toEqual(['vars["count"]']);
  });

  it("lists the latest version of each name, filtered by prefix and label, page by page", async () => {
    for (const n of ["lst-a", "lst-b", "lst-c"]) await defs.registerDefinition({ spec: { ...spec(n), labels: { group: n === "lst-b" ? "two" : "one" } } });
    await defs.registerDefinition({ spec: { ...spec("lst-a", { z: "1" }), labels: { group: "one" } } });
    const first = await defs.listDefinitions({ namePrefix: "lst-", pageSize: 2 });
    expect(first.definitions.map((d) => `${d.spec?.name}@${d.version}`)).toEqual(["lst-a@2", "lst-b@1"]);
    expect(first.definitions[0]?.spec?.steps).toEqual([]);
    expect(first.definitions[0]?.stepCount).toBe(2);
    const next = await defs.listDefinitions({ namePrefix: "lst-", pageSize: 2, pageToken: first.nextPageToken });
    expect(next.definitions.map((d) => d.spec?.name)).toEqual(["lst-c"]);
    expect(next.nextPageToken).toBe("");
    const labelled = await defs.listDefinitions({ namePrefix: "lst-", labels: { group: "one" } });
    expect(labelled.definitions.map((d) => d.spec?.name)).toEqual(["lst-a", "lst-c"]);
  });

  it("needs definitions:write to register or change state; sagas:read to read", async () => {
    const reader = await srv.issueToken(["sagas:read"]);
    const writer = await srv.issueToken(["definitions:write"]);
    const asReader = srv.definitions({ token: reader.token });
    const asWriter = srv.definitions({ token: writer.token });
    await expectCode(asReader.registerDefinition({ spec: spec("def-auth") }), Code.PermissionDenied);
    expect((await asWriter.registerDefinition({ spec: spec("def-auth") })).definition?.createdBy).toBe(writer.name);
    await expectCode(asWriter.getDefinition({ name: "def-auth" }), Code.PermissionDenied);
    expect((await asReader.getDefinition({ name: "def-auth" })).definition?.version).toBe(1);
    await expectCode(asReader.setDefinitionState({ name: "def-auth", version: 1, state: DefinitionState.DISABLED }), Code.PermissionDenied);
    await expectCode(srv.definitions({ token: null }).listDefinitions({}), Code.Unauthenticated);
  });
});
