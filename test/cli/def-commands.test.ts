import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DefinitionState, SagaStatus } from "../../src/client/index.js";
import { sagadCliFor, tableRows, writeTempFiles, type SagadCli } from "../helpers/cli.js";
import { PROJECT_ROOT } from "../helpers/replica-process.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { waitForStatus } from "../helpers/wait.js";

/** A definition with a vars schema (a required var, two defaults) and two noop steps. */
function shopDefinition(description: string): string {
  return `name: cli-shop
description: ${description}
labels: {team: cli}
varsSchema:
  type: object
  required: [order]
  properties:
    order: {type: string, pattern: "^[A-Z]-[0-9]+$"}
    amount: {type: integer, minimum: 1, default: 1999}
    currency: {type: string, default: EUR}
steps:
  - name: reserve
    action: noop
    config: {item: "R-{{vars.order}}"}
  - name: charge
    action: noop
    dependsOn: [reserve]
    config: {amount: "{{vars.amount}}", currency: "{{vars.currency}}"}
`;
}

const example = (name: string) => join(PROJECT_ROOT, "examples", name);

// Every CLI run is a node process that compiles TypeScript first: beside other test files on
// two cores, a test of several runs can take longer than the default 30 s.
/** The real `sagad def …` process against one server for the whole file. */
describe("sagad def (CLI)", { timeout: 90_000 }, () => {
  let srv: TestServer;
  let cli: SagadCli;
  let files: Awaited<ReturnType<typeof writeTempFiles>>;

  beforeAll(async () => {
    srv = await startTestServer();
    cli = sagadCliFor(srv.server.url, srv.adminToken);
    files = await writeTempFiles({
      "shop-v1.yaml": shopDefinition("first cut"),
      "shop-v2.yaml": shopDefinition("second cut"),
      "shop-v3.yaml": shopDefinition("third cut"),
      "vars.yaml": "order: B-7\ncurrency: USD\n",
      "multi-a.yaml": "name: multi-a\nsteps:\n  - name: a\n    action: noop\n",
      "multi-b.yaml": "name: multi-b\nsteps:\n  - name: a\n    action: noop\n",
      "syntax.yaml": "name: broken\nsteps: [\n",
      "refused.yaml": "name: refused\nsteps:\n  - name: a\n    action: noop\n    dependsOn: [nope]\n",
    });
    const first = await cli("def", "register", "-f", files.path("shop-v1.yaml"));
    expect(first.code, first.stderr).toBe(0);
    const second = await cli("def", "register", "-f", files.path("shop-v2.yaml"), "--expect-version", "1");
    expect(second.code, second.stderr).toBe(0);
  });

  afterAll(async () => {
    await files?.remove();
    await srv?.close();
  });

  it("register -f takes several files, and registering them again answers unchanged with the same versions", async () => {
    const paths = ["order-checkout.yaml", "customer-onboarding.yaml", "provision-environment.yaml"].map(example);
    const args = ["def", "register", ...paths.flatMap((p) => ["-f", p])];

    const first = await cli(...args);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toBe("");
    expect(tableRows(first.stdout)).toEqual({
      header: ["FILE", "NAME", "VERSION", "RESULT"],
      rows: [
        [paths[0], "order-checkout", "1", "registered"],
        [paths[1], "customer-onboarding", "1", "registered"],
        [paths[2], "provision-environment", "1", "registered"],
      ],
    });

    const [again, asJson] = await Promise.all([cli(...args), cli(...args, "-o", "json")]);
    expect(again.code, again.stderr).toBe(0);
    expect(tableRows(again.stdout).rows.map((r) => [r[1], r[2], r[3]])).toEqual([
      ["order-checkout", "1", "unchanged"],
      ["customer-onboarding", "1", "unchanged"],
      ["provision-environment", "1", "unchanged"],
    ]);
    expect(asJson.code, asJson.stderr).toBe(0);
    const responses = JSON.parse(asJson.stdout) as { created?: boolean; definition: { version: number; spec: { name: string } } }[];
    expect(responses.map((r) => [r.definition.spec.name, r.definition.version, r.created ?? false])).toEqual([
      ["order-checkout", 1, false],
      ["customer-onboarding", 1, false],
      ["provision-environment", 1, false],
    ]);
  });

  it("register checks every file before sending any; a file the server refuses ends it, reporting the ones before", async () => {
    const local = await cli("def", "register", "-f", files.path("multi-a.yaml"), "-f", files.path("syntax.yaml"));
    expect([local.code, local.stdout]).toEqual([2, ""]);
    expect(local.stderr).toMatch(new RegExp(`^sagad: ${files.path("syntax.yaml")}:\\d+:\\d+: `));
    expect((await cli("def", "get", "multi-a")).code).toBe(3);

    const server = await cli("def", "register", "-f", files.path("multi-b.yaml"), "-f", files.path("refused.yaml"));
    expect(server.code).toBe(2);
    expect(tableRows(server.stdout).rows).toEqual([[files.path("multi-b.yaml"), "multi-b", "1", "registered"]]);
    expect(server.stderr).toContain(`${files.path("refused.yaml")}:5:`);
    expect((await cli("def", "get", "refused")).code).toBe(3);
  });

  it("register --expect-version refuses a stale expectation with exit 6 naming both versions, and accepts the right one", async () => {
    const stale = await cli("def", "register", "-f", files.path("shop-v3.yaml"), "--expect-version", "1");
    expect({ code: stale.code, stdout: stale.stdout }).toEqual({ code: 6, stdout: "" });
    expect(stale.stderr).toContain('sagad: FAILED_PRECONDITION: definition "cli-shop": expected latest version 1, but its latest version is 2');
    const none = await cli("def", "register", "-f", files.path("shop-v3.yaml"), "--expect-version", "-1");
    expect(none.code).toBe(6);
    expect(none.stderr).toContain("expected no version yet, but its latest version is 2");

    const versions = await cli("def", "versions", "cli-shop", "-o", "jsonl");
    expect(versions.stdout.trimEnd().split("\n").map((line) => (JSON.parse(line) as { version: number }).version)).toEqual([2, 1]);
  });

  it("list shows the latest version of every name; -o jsonl is one definition per line", async () => {
    const [table, jsonl] = await Promise.all([cli("def", "list", "--prefix", "cli-"), cli("def", "list", "-o", "jsonl")]);
    expect(table.code, table.stderr).toBe(0);
    const { header, rows } = tableRows(table.stdout);
    expect(header).toEqual(["NAME", "VERSION", "STATE", "STEPS", "CREATED", "BY", "DESCRIPTION"]);
    expect(rows).toEqual([["cli-shop", "2", "ACTIVE", "2", expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/), srv.adminTokenName, "second cut"]]);

    expect(jsonl.code, jsonl.stderr).toBe(0);
    const names = jsonl.stdout.trimEnd().split("\n").map((line) => (JSON.parse(line) as { spec: { name: string } }).spec.name);
    expect(names).toContain("cli-shop");
    expect(names.filter((n) => n === "cli-shop")).toHaveLength(1);
  });

  it("get NAME shows the latest version and NAME@V that version, with its schema and steps", async () => {
    const [latest, first, asJson] = await Promise.all([
      cli("def", "get", "cli-shop"),
      cli("def", "get", "cli-shop@1"),
      cli("def", "get", "cli-shop@1", "-o", "json"),
    ]);
    expect(latest.code, latest.stderr).toBe(0);
    expect(latest.stdout).toMatch(/^Name: +cli-shop@2\nState: +ACTIVE\nDescription: +second cut\nLabels: +team=cli\n/);
    expect(first.stdout).toMatch(/^Name: +cli-shop@1\n/);
    expect(first.stdout).toContain("Description: first cut");
    expect(first.stdout).toMatch(/Vars schema: \{"type":"object","required":\["order"\]/);
    const steps = tableRows(first.stdout.split("\n\n")[1]!);
    expect(steps).toEqual({
      header: ["STEP", "ACTION", "DEPENDS ON", "COMPENSATE"],
      rows: [["reserve", "noop", "-", "-"], ["charge", "noop", "reserve", "-"]],
    });

    const definition = JSON.parse(asJson.stdout) as { version: number; state: string; spec: { name: string; steps: { name: string }[] } };
    expect(definition).toMatchObject({ version: 1, state: "DEFINITION_STATE_ACTIVE", spec: { name: "cli-shop", description: "first cut" } });
    expect(definition.spec.steps.map((s) => s.name)).toEqual(["reserve", "charge"]);
  });

  it("versions lists every version newest first", async () => {
    const result = await cli("def", "versions", "cli-shop");
    expect(result.code, result.stderr).toBe(0);
    expect(tableRows(result.stdout).rows.map((r) => [r[0], r[1], r[6]])).toEqual([
      ["cli-shop", "2", "second cut"],
      ["cli-shop", "1", "first cut"],
    ]);
  });

  it("render shows the vars with the schema's defaults and the rendered plan; --var wins over --vars-file", async () => {
    const [fromFlags, fromFile, asJson] = await Promise.all([
      cli("def", "render", "cli-shop", "--var", "order=A-1"),
      cli("def", "render", "cli-shop@1", "--vars-file", files.path("vars.yaml"), "--var", "amount=5"),
      cli("def", "render", "cli-shop", "--var", "order=A-1", "-o", "json"),
    ]);
    expect(fromFlags.code, fromFlags.stderr).toBe(0);
    const [title, vars, plan] = fromFlags.stdout.trimEnd().split("\n\n");
    expect(title).toBe("cli-shop@2");
    expect(tableRows(vars!)).toEqual({ header: ["VAR", "VALUE"], rows: [["amount", "1999"], ["currency", "EUR"], ["order", "A-1"]] });
    expect(tableRows(plan!)).toEqual({
      header: ["STEP", "ACTION", "DEPENDS ON", "CONFIG"],
      rows: [["reserve", "noop", "-", '{"item":"R-A-1"}'], ["charge", "noop", "reserve", '{"amount":"1999","currency":"EUR"}']],
    });

    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(fromFile.stdout.split("\n")[0]).toBe("cli-shop@1");
    expect(tableRows(fromFile.stdout.split("\n\n")[1]!).rows).toEqual([["amount", "5"], ["currency", "USD"], ["order", "B-7"]]);

    const rendered = JSON.parse(asJson.stdout) as { version: number; vars: Record<string, string>; steps: { name: string; config: unknown }[] };
    expect(rendered.version).toBe(2);
    expect(rendered.vars).toEqual({ order: "A-1", amount: "1999", currency: "EUR" });
    expect(rendered.steps.map((s) => s.config)).toEqual([{ item: "R-A-1" }, { amount: "1999", currency: "EUR" }]);
  });

  it("render refuses a var the schema does not allow with exit 2, naming vars[...] on stderr", async () => {
    const [badPattern, missing] = await Promise.all([
      cli("def", "render", "cli-shop", "--var", "order=lowercase"),
      cli("def", "render", "cli-shop", "--var", "amount=3"),
    ]);
    expect({ code: badPattern.code, stdout: badPattern.stdout }).toEqual({ code: 2, stdout: "" });
    expect(badPattern.stderr).toMatch(/^sagad: INVALID_ARGUMENT: vars\["order"\]: .*pattern/);
    expect({ code: missing.code, stdout: missing.stdout }).toEqual({ code: 2, stdout: "" });
    expect(missing.stderr).toBe('sagad: INVALID_ARGUMENT: vars["order"]: is required by the vars schema\n');
  });

  it("deprecate warns on stderr and still creates; disable refuses with exit 6; activate allows it again", async () => {
    const deprecated = await cli("def", "deprecate", "cli-shop@1");
    expect(deprecated).toMatchObject({ code: 0, stdout: "cli-shop@1 is DEPRECATED\n" });

    const created = await cli("saga", "create", "--def", "cli-shop@1", "--var", "order=A-9", "-o", "json");
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).toMatch(/^sagad: warning: definition "cli-shop" version 1 is DEPRECATED/);
    const saga = JSON.parse(created.stdout) as { id: string; definitionName: string; definitionVersion: number };
    expect(saga).toMatchObject({ definitionName: "cli-shop", definitionVersion: 1 });
    await waitForStatus(srv.client(), saga.id, SagaStatus.COMPLETED);

    const disabled = await cli("def", "disable", "cli-shop@1", "-o", "json");
    expect(disabled.code, disabled.stderr).toBe(0);
    expect(JSON.parse(disabled.stdout)).toMatchObject({ version: 1, state: "DEFINITION_STATE_DISABLED" });
    const refused = await cli("saga", "create", "--def", "cli-shop@1", "--var", "order=A-9");
    expect({ code: refused.code, stdout: refused.stdout }).toEqual({ code: 6, stdout: "" });
    expect(refused.stderr).toContain('sagad: FAILED_PRECONDITION: definition "cli-shop" version 1 is DISABLED');
    const [shown, latestStill] = await Promise.all([
      cli("def", "get", "cli-shop@1"),
      cli("saga", "create", "--def", "cli-shop", "--var", "order=A-9", "-o", "json"),
    ]);
    expect(shown.stdout).toMatch(/\nState: +DISABLED\n/);
    expect(latestStill.code, latestStill.stderr).toBe(0);
    expect(JSON.parse(latestStill.stdout)).toMatchObject({ definitionVersion: 2 });

    const activated = await cli("def", "activate", "cli-shop@1");
    expect(activated).toMatchObject({ code: 0, stdout: "cli-shop@1 is ACTIVE\n" });
    const again = await cli("saga", "create", "--def", "cli-shop@1", "--var", "order=A-9");
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toBe("");
    expect(again.stdout).toMatch(/^[0-9a-f-]{36} {2}cli-shop {2}created\n$/);
  });

  it("a state change needs NAME@VERSION: without it, exit 2 and nothing changes", async () => {
    const result = await cli("def", "disable", "cli-shop");
    expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 2, stdout: "" });
    expect(result.stderr).toContain('"cli-shop": expected NAME@VERSION');
    const { definition } = await srv.definitions().getDefinition({ name: "cli-shop" });
    expect(definition?.state).toBe(DefinitionState.ACTIVE);
  });
});
