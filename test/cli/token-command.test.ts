import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSagadCli, TOKEN_PATTERN } from "../helpers/cli.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { expectCode, mapConcurrent } from "../helpers/rpc.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { accepted } from "../helpers/tokens.js";
import { waitUntil } from "../helpers/wait.js";

/** Rows of `token list` as [name, key id, scopes, created, revoked], header excluded. */
function listed(stdout: string): string[][] {
  const [header, ...rows] = stdout.trimEnd().split("\n").map((line) => line.split(/ {2,}/));
  expect(header).toEqual(["NAME", "KEY ID", "SCOPES", "CREATED", "REVOKED"]);
  return rows;
}

/** The real `sagad token` process against a scratch database, with a sagad serving the same database. */
describe("sagad token (CLI)", () => {
  let db: TestDatabase;
  let ts: TestServer;
  const cli = (...args: string[]) => runSagadCli(["token", ...args], { env: { DATABASE_URL: db.url } });

  beforeAll(async () => {
    db = await createTestDatabase();
    ts = await startTestServer({ database: db });
  });

  afterAll(async () => {
    await ts?.close();
    await db?.drop();
  });

  it("create prints the token, and only the token, on stdout; the running server accepts it with its scopes", async () => {
    const result = await cli("create", "--name", "ci-deployer", "--scope", "sagas:execute", "--scope=sagas:read");

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^${TOKEN_PATTERN.source}\\n$`));
    expect(result.stderr).toContain('created token "ci-deployer"');
    expect(result.stderr).not.toMatch(TOKEN_PATTERN);
    const client = ts.client({ token: result.stdout.trim() });
    await waitUntil(() => accepted(client), "the server accepts the new token", 5_000);
    await expectCode(client.deleteSaga({ id: "00000000-0000-4000-8000-000000000000" }), Code.PermissionDenied);
    const { saga } = await client.createSaga({ name: "from-cli-token", steps: [{ name: "a", action: "noop" }] });
    expect(saga?.name).toBe("from-cli-token");
  });

  it("list shows every token's name, key id, scopes and times, and never a secret", async () => {
    const created = await cli("create", "--name", "lister", "--scope", "admin");
    expect(created.code, created.stderr).toBe(0);
    const secret = created.stdout.trim().slice(-43);

    const result = await cli("list");

    expect(result.code, result.stderr).toBe(0);
    const rows = listed(result.stdout);
    const row = rows.find((r) => r[0] === "lister");
    expect(row).toEqual(["lister", created.stdout.trim().split("_")[1], "admin", expect.stringMatching(/^\d{4}-\d\d-\d\dT/), "-"]);
    expect(rows.map((r) => r[0])).toEqual(expect.arrayContaining(["ci-deployer", "lister"]));
    expect(result.stdout).not.toContain(secret);
    expect(result.stdout).not.toMatch(TOKEN_PATTERN);
    expect(result.stdout + result.stderr).not.toContain(ts.adminToken.slice(-43));
  });

  it("revoke makes the server refuse the token within seconds; revoking again is a no-op that says when", async () => {
    const created = await cli("create", "--name", "short-lived", "--scope", "sagas:read");
    const client = ts.client({ token: created.stdout.trim() });
    await waitUntil(() => accepted(client), "the server accepts the new token", 5_000);

    const revoked = await cli("revoke", "short-lived");
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stderr).toContain('revoked token "short-lived"');
    await waitUntil(async () => !(await accepted(client)), "the server refuses the revoked token", 3_000);

    const again = await cli("revoke", "short-lived");
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/token "short-lived" was already revoked at \d{4}-/);
    const row = listed((await cli("list")).stdout).find((r) => r[0] === "short-lived");
    expect(row?.[4]).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it("refuses bad input with exit code 2, a message on stderr, nothing on stdout, and no change", async () => {
    const before = (await cli("list")).stdout;
    const cases: [string[], string][] = [
      [["create", "--name", "x", "--scope", "sagas:write"], '--scope: unknown scope "sagas:write"; known scopes: sagas:read, sagas:execute, definitions:write, workers, admin'],
      [["create", "--scope", "admin"], "--name is required"],
      [["create", "--name", "x"], "at least one --scope is required"],
      [["create", "--name", "x", "--name", "y", "--scope", "admin"], "--name given more than once"],
      [["create", "--name", "has space", "--scope", "admin"], '--name: "has space" is not a valid token name'],
      [["create", "--name", "ci-deployer", "--scope", "admin"], 'a token named "ci-deployer" already exists'],
      [["create", "--name", "x", "--scope"], "--scope needs a value"],
      [["create", "--name", "x", "--scope", "admin", "--port", "1"], "unknown flag --port"],
      [["revoke", "nobody"], 'no token named "nobody"'],
      [["revoke"], "revoke takes exactly one token name"],
      [["list", "extra"], 'unexpected argument "extra"'],
      [["rotate"], 'unknown subcommand "rotate"'],
      [[], "missing subcommand"],
    ];
    // A few at a time: each is a node process compiling TypeScript on a small machine.
    const results = await mapConcurrent(cases, 4, ([args]) => cli(...args));
    results.forEach((result, i) => {
      const [args, message] = cases[i]!;
      expect({ args, code: result.code, stdout: result.stdout }).toEqual({ args, code: 2, stdout: "" });
      expect(result.stderr, args.join(" ")).toContain(message);
    });
    expect((await cli("list")).stdout).toBe(before);
  }, 60_000);

  it("prints its usage with --help", async () => {
    const result = await cli("--help");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("sagad token create --name NAME --scope SCOPE");
    expect(result.stdout).toContain("sagas:read, sagas:execute, definitions:write, workers, admin");
  });

  it("migrates a fresh database first", async () => {
    const fresh = await createTestDatabase({ migrated: false });
    try {
      const result = await runSagadCli(["token", "create", "--name", "first", "--scope", "admin"], { env: { DATABASE_URL: fresh.url } });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(TOKEN_PATTERN);
      expect(result.stderr).toMatch(/migrated .* to schema version \d+/);
      const { rows } = await fresh.pool.query("SELECT name, scopes FROM api_tokens");
      expect(rows).toEqual([{ name: "first", scopes: ["admin"] }]);
    } finally {
      await fresh.drop();
    }
  });

  it("fails with exit code 1 when the database is unreachable, and takes --database-url over DATABASE_URL", async () => {
    const result = await runSagadCli(["token", "list", "--database-url", "postgres://postgres@127.0.0.1:1/nowhere"], {
      env: { DATABASE_URL: db.url },
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^sagad token: .*ECONNREFUSED/m);
  });
});
