import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SagaStatus } from "../../src/client/index.js";
import { ANSI_ESCAPE, closedPortUrl, runSagadCli, sagadCliFor, writeTempFiles, type SagadCli } from "../helpers/cli.js";
import { mapConcurrent, ONE_ATTEMPT } from "../helpers/rpc.js";
import type { CommandResult } from "../helpers/run-command.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { waitForStatus } from "../helpers/wait.js";

/** A case: the arguments, the exit code, and the lines stderr must start with (in order). */
type Case = { args: string[]; code: number; stderr: (string | RegExp)[]; env?: Record<string, string>; unsetEnv?: string[] };

/** Every error: its exit code, the lines on stderr, and nothing at all on stdout. */
function expectError(result: CommandResult, c: Case): void {
  expect({ args: c.args, code: result.code, stdout: result.stdout }).toEqual({ args: c.args, code: c.code, stdout: "" });
  const lines = result.stderr.trimEnd().split("\n");
  c.stderr.forEach((want, i) => {
    if (typeof want === "string") expect(lines[i], c.args.join(" ")).toBe(want);
    else expect(lines[i], c.args.join(" ")).toMatch(want);
  });
}

// Every CLI run is a node process that compiles TypeScript first: beside other test files on
// two cores, a test of several runs can take longer than the default 30 s.
/** How the real CLI fails: usage errors, bad files, the server's refusals, an unreachable server. */
describe("sagad CLI errors and exit codes", { timeout: 90_000 }, () => {
  let srv: TestServer;
  let cli: SagadCli;
  let readOnly: string;
  let files: Awaited<ReturnType<typeof writeTempFiles>>;
  let failedId: string;
  const run = (c: Case) => runSagadCli(c.args, {
    env: { SAGAD_URL: srv.server.url, SAGAD_TOKEN: srv.adminToken, ...c.env },
    unsetEnv: c.unsetEnv,
  });

  beforeAll(async () => {
    srv = await startTestServer();
    cli = sagadCliFor(srv.server.url, srv.adminToken);
    readOnly = (await srv.issueToken(["sagas:read"], "cli-reader")).token;
    files = await writeTempFiles({
      "syntax.yaml": "name: broken\nsteps:\n  - name: a\n    action: noop: extra\n",
      "unknown-step.yaml": "name: shop\nsteps:\n  - name: reserve\n    action: noop\n  - name: charge\n    action: noop\n    dependsOn: [reserve, reserv]\n",
      "typo.yaml": "name: typo\nsteps:\n  - name: a\n    acton: noop\n",
      "bad-duration.yaml": "name: dur\nsteps:\n  - name: a\n    action: noop\n    retry_policy:\n      initial_interval: soon\n",
      "vars.yaml": "order: [\n",
      "ok.yaml": "name: fine\nsteps:\n  - name: a\n    action: noop\n",
      "unquoted.yaml": "name: env\nsteps:\n  - name: a\n    action: noop\n    config: {env: {{vars.env}}}\n",
      "unquoted-vars.yaml": "region: eu\nnote: {{vars.x}}\n",
    });
    const { saga } = await srv.client().createSaga({
      name: "cli-errors",
      steps: [{ name: "charge", action: "http", config: { url: `${srv.server.url}/no-such` }, retryPolicy: ONE_ATTEMPT }],
    });
    failedId = saga!.id;
    await waitForStatus(srv.client(), failedId, SagaStatus.FAILED);
  });

  afterAll(async () => {
    await files?.remove();
    await srv?.close();
  });

  it("usage errors exit 2 with the reason on stderr: flags, vars, filters, URLs and files", async () => {
    const f = (name: string) => files.path(name);
    const cases: Case[] = [
      { args: ["saga", "list", "--bogus"], code: 2, stderr: ["sagad: unknown option '--bogus'", "(run with --help for usage)"] },
      { args: ["saga", "create", "--def", "shop", "--var", "order"], code: 2, stderr: ['sagad: --var "order": expected KEY=VALUE'] },
      { args: ["saga", "list", "--status", "running,bogus"], code: 2, stderr: [/^sagad: --status "bogus": not a saga status \(one of pending, running, /] },
      { args: ["saga", "list", "--since", "last tuesday"], code: 2, stderr: [/^sagad: --since "last tuesday": expected a duration/] },
      { args: ["saga", "list", "-o", "yaml"], code: 2, stderr: [/^sagad: option '-o, --output <format>' argument 'yaml' is invalid/] },
      { args: ["saga", "list", "--url", "ftp://127.0.0.1"], code: 2, stderr: ['sagad: --url: "ftp://127.0.0.1" must be http:// or https://'] },
      { args: ["saga", "get"], code: 2, stderr: ["sagad: missing required argument 'id'"] },
      { args: ["saga", "create"], code: 2, stderr: ["sagad: saga create: give exactly one of --def NAME[@VERSION] or -f STEPS.yaml"] },
      { args: ["def", "get", "shop@latest"], code: 2, stderr: ['sagad: "shop@latest": the version after @ must be a positive integer'] },
      { args: ["def", "register", "-f", f("syntax.yaml")], code: 2, stderr: [`sagad: ${f("syntax.yaml")}:4:13: Nested mappings are not allowed in compact mappings`] },
      { args: ["saga", "create", "-f", f("typo.yaml")], code: 2, stderr: [`sagad: ${f("typo.yaml")}:4:5: steps[0].acton: unknown field "acton" in saga.v1.StepSpec`] },
      { args: ["saga", "create", "-f", f("bad-duration.yaml")], code: 2, stderr: [`sagad: ${f("bad-duration.yaml")}:6:7: steps[0].retry_policy.initial_interval: invalid value: "soon"`] },
      { args: ["saga", "create", "--def", "shop", "--vars-file", f("vars.yaml")], code: 2, stderr: [new RegExp(`^sagad: ${f("vars.yaml")}:2:1: Flow sequence`)] },
      { args: ["saga", "create", "-f", f("no-such.yaml")], code: 2, stderr: [`sagad: ${f("no-such.yaml")}: no such file`] },
      // An unquoted template parses as a mapping used as a key: refused where it stands, never registered.
      { args: ["def", "register", "-f", f("unquoted.yaml")], code: 2, stderr: [`sagad: ${f("unquoted.yaml")}:5:20: a mapping used as a key; quote a value that starts with "{", e.g. a template: "{{vars.env}}"`] },
      { args: ["saga", "create", "--def", "shop", "--vars-file", f("unquoted-vars.yaml")], code: 2, stderr: [new RegExp(`^sagad: ${f("unquoted-vars.yaml")}:2:8: a mapping used as a key`)] },
    ];
    const results = await mapConcurrent(cases, 3, run);
    results.forEach((result, i) => expectError(result, cases[i]!));
  });

  it("a server-side field violation in a file exits 2 and points at the field's file:line:col", async () => {
    const file = files.path("unknown-step.yaml");
    const violation = 'steps[1].depends_on[1]: unknown step "reserv"; no step has that name';
    const cases: Case[] = [
      { args: ["def", "register", "-f", file], code: 2, stderr: [`sagad: INVALID_ARGUMENT: ${violation}`, `  ${file}:7:26: ${violation}`] },
      { args: ["saga", "create", "-f", file], code: 2, stderr: [`sagad: INVALID_ARGUMENT: ${violation}`, `  ${file}:7:26: ${violation}`] },
      { args: ["saga", "get", "not-a-uuid"], code: 2, stderr: ['sagad: INVALID_ARGUMENT: id: "not-a-uuid" is not a saga id (UUID)'] },
    ];
    const results = await Promise.all(cases.map(run));
    results.forEach((result, i) => expectError(result, cases[i]!));
    expect((await srv.definitions().listDefinitions({})).definitions).toEqual([]);
  });

  it("the server's refusals map to their exit codes, with the Connect code's name on stderr", async () => {
    const unreachable = await closedPortUrl();
    const cases: Case[] = [
      {
        args: ["saga", "list", "--url", unreachable],
        code: 8,
        stderr: [new RegExp(`^sagad: UNAVAILABLE: cannot reach sagad at ${unreachable}: .*ECONNREFUSED`), "  is it running? (--url or SAGAD_URL)"],
      },
      { args: ["saga", "list"], unsetEnv: ["SAGAD_TOKEN"], code: 5, stderr: [/^sagad: UNAUTHENTICATED: no API token: pass --token or set SAGAD_TOKEN/] },
      { args: ["saga", "list", "--token", `sagad_${"0".repeat(16)}_${"a".repeat(43)}`], code: 5, stderr: ["sagad: UNAUTHENTICATED: the API token is invalid or revoked"] },
      { args: ["saga", "create", "-f", files.path("ok.yaml")], env: { SAGAD_TOKEN: readOnly }, code: 4, stderr: ["sagad: PERMISSION_DENIED: CreateSaga needs scope sagas:execute (or admin)"] },
      { args: ["def", "register", "-f", files.path("ok.yaml")], env: { SAGAD_TOKEN: readOnly }, code: 4, stderr: ["sagad: PERMISSION_DENIED: RegisterDefinition needs scope definitions:write (or admin)"] },
      { args: ["saga", "get", "00000000-0000-4000-8000-000000000000"], code: 3, stderr: ['sagad: NOT_FOUND: saga "00000000-0000-4000-8000-000000000000" not found'] },
      { args: ["def", "get", "no-such-definition"], code: 3, stderr: [/^sagad: NOT_FOUND: .*no-such-definition/] },
      { args: ["saga", "rollback", failedId, "--reason", "x".repeat(1001)], code: 2, stderr: [/^sagad: INVALID_ARGUMENT: reason: /] },
    ];
    const results = await mapConcurrent(cases, 3, run);
    results.forEach((result, i) => expectError(result, cases[i]!));
    expect((await srv.client().getSaga({ id: failedId })).saga?.status).toBe(SagaStatus.FAILED);
  });

  it("a URL that answers but is not a sagad (plain HTTP/1, TLS against http, a path) exits 8 and says so", async () => {
    const plain = createServer((_, res) => res.writeHead(404).end("not here"));
    await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve));
    const port = (plain.address() as AddressInfo).port;
    const hint = "  is it a sagad, with the right http:// or https://? (--url or SAGAD_URL)";
    try {
      const cases: Case[] = [
        { args: ["saga", "list", "--url", `http://127.0.0.1:${port}`], code: 8, stderr: [`sagad: cannot talk to sagad at http://127.0.0.1:${port}: it does not speak HTTP/2 (not a sagad?)`, hint] },
        { args: ["saga", "list", "--url", `https://127.0.0.1:${port}`], code: 8, stderr: [`sagad: cannot talk to sagad at https://127.0.0.1:${port}: the TLS handshake failed (is it http://?)`, hint] },
        { args: ["saga", "list", "--url", `${srv.server.url}/sagad`], code: 8, stderr: [`sagad: cannot talk to sagad at ${srv.server.url}/sagad: no sagad API there (HTTP 404; a path after the port?)`, hint] },
      ];
      const results = await mapConcurrent(cases, 3, run);
      results.forEach((result, i) => expectError(result, cases[i]!));
    } finally {
      plain.close();
    }
  });

  it("--url and --token win over SAGAD_URL and SAGAD_TOKEN; every --protocol gives the same answer", async () => {
    const wrongEnv = { SAGAD_URL: await closedPortUrl(), SAGAD_TOKEN: "sagad_wrong" };
    const flags = ["--url", srv.server.url, "--token", srv.adminToken];
    const results = await mapConcurrent(["connect", "grpc", "grpc-web"], 3, (protocol) =>
      runSagadCli(["saga", "get", failedId, "-o", "json", "--protocol", protocol, ...flags], { env: wrongEnv }));
    const bodies = results.map((result) => {
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as { id: string; status: string };
    });
    expect(bodies[0]).toMatchObject({ id: failedId, status: "SAGA_STATUS_FAILED" });
    expect(bodies[1]).toEqual(bodies[0]);
    expect(bodies[2]).toEqual(bodies[0]);
  });

  it("off a terminal there are no ANSI escapes at all, with or without --no-color, even with FORCE_COLOR", async () => {
    const commands = [
      ["saga", "get", failedId],
      ["saga", "events", failedId],
      ["saga", "events", failedId, "--no-color"],
      ["saga", "get", "00000000-0000-4000-8000-000000000000", "--no-color"],
      ["saga", "list", "--bogus"],
    ];
    const results = await mapConcurrent(commands, 3, (args) =>
      runSagadCli(args, { env: { SAGAD_URL: srv.server.url, SAGAD_TOKEN: srv.adminToken, FORCE_COLOR: "3", TERM: "xterm-256color" }, unsetEnv: ["NO_COLOR"] }));
    results.forEach((result, i) => {
      expect(result.stdout + result.stderr, commands[i]!.join(" ")).not.toMatch(ANSI_ESCAPE);
      expect(result.stdout + result.stderr, commands[i]!.join(" ")).not.toBe("");
    });
    expect(results[0]!.stdout).toMatch(/^Status: +FAILED$/m);
    expect(results[1]!.stdout).toMatch(/charge +FAILED +attempt 1 +error: GET /);
  });

  it("help prints the commands and the exit codes on stdout and exits 0", async () => {
    const [help, sagaHelp] = await Promise.all([cli("help"), cli("saga", "--help")]);
    expect(help.code).toBe(0);
    expect(help.stderr).toBe("");
    expect(help.stdout).toMatch(/^Usage: sagad \[options\] \[command\]/);
    expect(help.stdout).toContain("Exit codes:\n  0   done; for watch and create --watch: the saga COMPLETED");
    expect(help.stdout).toContain("10  the saga FAILED      11  COMPENSATED           12  COMPENSATION_FAILED");
    expect(help.stdout).toContain("13  CANCELLED            130 interrupted (Ctrl-C)");
    expect(sagaHelp.code).toBe(0);
    for (const command of ["create", "list", "get", "events", "watch", "retry", "rollback", "cancel", "delete"]) {
      expect(sagaHelp.stdout).toMatch(new RegExp(`^  ${command} `, "m"));
    }
  });
});
