import { issueToken } from "../auth/issue-token.js";
import { TOKEN_NAME_PATTERN } from "../auth/token-format.js";
import { loadConfig, type Config } from "../config.js";
import { isScope, SCOPES, type Scope } from "../domain/scopes.js";
import { migrate } from "../store/migrate.js";
import { createPool } from "../store/pool.js";
import { listTokens, revokeToken, type TokenInfo } from "../store/token-store.js";
import { openCliDatabase } from "./cli-database.js";

/** Where the command writes; main.ts passes the process's streams, tests may pass buffers. */
export interface CommandIo {
  readonly env: NodeJS.ProcessEnv;
  stdout(text: string): void;
  stderr(text: string): void;
}

export const TOKEN_USAGE = `Usage:
  sagad token create --name NAME --scope SCOPE [--scope SCOPE ...]
      prints the new token (sagad_<key id>_<secret>) on stdout, once; only its hash is stored
  sagad token list
      name, key id, scopes, created and revoked time of every token (never a secret)
  sagad token revoke NAME
      every replica refuses the token within seconds

Scopes: ${SCOPES.join(", ")} (admin includes the others)
Names: 1 to 64 of [A-Za-z0-9_.-], starting with a letter or digit; never reused.
Database (as the server): --database-url <url> or DATABASE_URL; else the embedded PostgreSQL in
--data-dir <dir> or SAGAD_DATA_DIR (default ./.sagad), the running sagad's if there is one.

Exit codes: 0 done, 1 the database failed, 2 bad input (unknown scope, name taken, no such token).`;

/** Bad input: exit code 2 with the message on stderr. */
class UsageError extends Error {}

interface Parsed {
  readonly subcommand: "create" | "list" | "revoke" | "help";
  readonly name?: string;
  readonly scopes: readonly Scope[];
  /** Database flags, handed to loadConfig so they mean exactly what they mean to the server. */
  readonly configFlags: readonly string[];
}

/**
 * `sagad token …`: manages API tokens in the same database the server uses, running migrations
 * first so it works on a fresh database. Returns the exit code: 0, 1 when the database fails, 2
 * for bad input. The secret of a created token is the only thing `create` writes to stdout, so
 * scripts can capture it; everything else goes to stderr.
 */
export async function runTokenCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  let parsed: Parsed;
  let config: Config;
  try {
    parsed = parseArgs(argv);
    if (parsed.subcommand === "help") {
      io.stdout(`${TOKEN_USAGE}\n`);
      return 0;
    }
    config = loadConfig(io.env, parsed.configFlags);
  } catch (err) {
    io.stderr(`sagad token: ${(err as Error).message}\nRun "sagad token --help" for usage.\n`);
    return 2;
  }
  let database: Awaited<ReturnType<typeof openCliDatabase>> | undefined;
  try {
    database = await openCliDatabase(config);
    const pool = createPool(database.url, { max: 1, applicationName: "sagad token" });
    try {
      const { applied } = await migrate(pool);
      if (applied.length > 0) io.stderr(`sagad token: migrated ${database.source} to schema version ${applied.at(-1)}\n`);
      return await execute(parsed, pool, io);
    } finally {
      await pool.end();
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`sagad token: ${err.message}\n`);
      return 2;
    }
    io.stderr(`sagad token: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await database?.close().catch((err: unknown) => io.stderr(`sagad token: could not stop the embedded PostgreSQL: ${(err as Error).message}\n`));
  }
}

async function execute(parsed: Parsed, pool: ReturnType<typeof createPool>, io: CommandIo): Promise<number> {
  switch (parsed.subcommand) {
    case "create": {
      const name = parsed.name!;
      const issued = await issueToken(pool, name, parsed.scopes);
      if (issued === null) {
        throw new UsageError(`a token named "${name}" already exists (names are never reused, revoked tokens included)`);
      }
      io.stdout(`${issued.token}\n`);
      io.stderr(
        `sagad token: created token "${name}" (key id ${issued.keyId}, scopes ${parsed.scopes.join(", ")}); ` +
          "its secret is on stdout, this once; sagad cannot show it again\n",
      );
      return 0;
    }
    case "list":
      io.stdout(formatTable(await listTokens(pool)));
      return 0;
    case "revoke": {
      const name = parsed.name!;
      const result = await revokeToken(pool, name);
      if (result.kind === "not-found") throw new UsageError(`no token named "${name}"`);
      if (result.kind === "already-revoked") {
        io.stderr(`sagad token: token "${name}" was already revoked at ${result.revokedAt.toISOString()}\n`);
      } else {
        io.stderr(`sagad token: revoked token "${name}"; every replica refuses it within seconds\n`);
      }
      return 0;
    }
    default:
      throw new Error(`unexpected subcommand ${parsed.subcommand}`);
  }
}

const CONFIG_FLAGS = new Set(["--database-url", "--data-dir"]);

function parseArgs(argv: readonly string[]): Parsed {
  const [subcommand, ...rest] = argv;
  if (subcommand === undefined) throw new UsageError("missing subcommand: create, list or revoke");
  if (subcommand === "--help" || subcommand === "-h" || subcommand === "help") {
    return { subcommand: "help", scopes: [], configFlags: [] };
  }
  if (subcommand !== "create" && subcommand !== "list" && subcommand !== "revoke") {
    throw new UsageError(`unknown subcommand "${subcommand}": expected create, list or revoke`);
  }
  const names: string[] = [];
  const scopes: Scope[] = [];
  const positional: string[] = [];
  const configFlags: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === "--help" || arg === "-h") return { subcommand: "help", scopes: [], configFlags: [] };
    if (!arg.startsWith("--")) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const value = eq === -1 ? rest[++i] : arg.slice(eq + 1);
    if (flag !== "--name" && flag !== "--scope" && !CONFIG_FLAGS.has(flag)) throw new UsageError(`unknown flag ${flag}`);
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    if (flag === "--name" && subcommand === "create") names.push(value);
    else if (flag === "--scope" && subcommand === "create") {
      if (!isScope(value)) throw new UsageError(`--scope: unknown scope "${value}"; known scopes: ${SCOPES.join(", ")}`);
      if (!scopes.includes(value)) scopes.push(value);
    } else if (CONFIG_FLAGS.has(flag)) configFlags.push(flag, value);
    else throw new UsageError(`${flag} does not apply to "token ${subcommand}"`);
  }
  if (subcommand === "create") {
    if (positional.length > 0) throw new UsageError(`unexpected argument "${positional[0]}"`);
    if (names.length === 0) throw new UsageError("--name is required");
    if (names.length > 1) throw new UsageError("--name given more than once");
    if (scopes.length === 0) throw new UsageError(`at least one --scope is required (${SCOPES.join(", ")})`);
    return { subcommand, name: checkName(names[0]!, "--name"), scopes, configFlags };
  }
  if (subcommand === "revoke") {
    if (positional.length !== 1) throw new UsageError("revoke takes exactly one token name");
    return { subcommand, name: checkName(positional[0]!, "NAME"), scopes: [], configFlags };
  }
  if (positional.length > 0) throw new UsageError(`unexpected argument "${positional[0]}"`);
  return { subcommand, scopes: [], configFlags };
}

function checkName(name: string, field: string): string {
  if (!TOKEN_NAME_PATTERN.test(name)) {
    throw new UsageError(`${field}: "${name}" is not a valid token name (1 to 64 of [A-Za-z0-9_.-], starting with a letter or digit)`);
  }
  return name;
}

/** Aligned columns; never a secret or a hash. */
function formatTable(tokens: readonly TokenInfo[]): string {
  const rows = [
    ["NAME", "KEY ID", "SCOPES", "CREATED", "REVOKED"],
    ...tokens.map((t) => [t.name, t.keyId, t.scopes.join(","), t.createdAt.toISOString(), t.revokedAt?.toISOString() ?? "-"]),
  ];
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  return rows.map((r) => r.map((cell, col) => cell.padEnd(widths[col]!)).join("  ").trimEnd()).join("\n") + "\n";
}
