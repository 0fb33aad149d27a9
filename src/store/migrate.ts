import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type pg from "pg";

/** One numbered schema change, `migrations/NNNN_name.sql`. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Result of {@link migrate}: the versions this call applied and the schema version now in place. */
export interface MigrateResult {
  applied: number[];
  version: number;
}

/**
 * Key of the transaction-scoped advisory lock every migration transaction takes, so replicas
 * starting together apply each migration once. Arbitrary, but fixed forever: ("sagad" as ASCII).
 */
const MIGRATION_LOCK_KEY = 0x7361676164;

/**
 * Resolved against this module, so it works from `src/` (tsx, vitest) and from `dist/src/` as long
 * as the build copies the .sql files next to the compiled js.
 */
const MIGRATIONS_DIR = new URL("./migrations/", import.meta.url);

const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/**
 * The migrations this build of sagad knows, ascending. Versions must run 1, 2, 3… with no gap or
 * duplicate: a gap usually means a file was lost in packaging, and applying around it would leave
 * a schema no release ever had.
 */
export async function loadMigrations(): Promise<readonly Migration[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith(".sql")).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE_PATTERN.exec(file);
    if (!match) throw new Error(`migration file ${file} is not named NNNN_name.sql`);
    const version = Number(match[1]);
    if (version !== migrations.length + 1) {
      throw new Error(`migration ${file} has version ${version}, expected ${migrations.length + 1}`);
    }
    const sql = await readFile(new URL(file, MIGRATIONS_DIR), "utf8");
    migrations.push({ version, name: match[2] ?? "", sql });
  }
  if (migrations.length === 0) throw new Error(`no migrations found in ${fileURLToPath(MIGRATIONS_DIR)}`);
  return migrations;
}

/**
 * Brings the database schema up to the newest migration this build knows, and refuses to run
 * against a database migrated by a newer sagad (its schema may mean things this code does not
 * understand).
 *
 * Guarantees: each migration commits in one transaction together with its `schema_migrations`
 * row, so a crash leaves it either fully applied or not at all; every transaction takes the same
 * advisory lock and re-reads the applied versions after taking it, so any number of processes may
 * call this at once and each migration is still applied exactly once.
 */
export async function migrate(
  pool: pg.Pool,
  options: { log?: (msg: string) => void } = {},
): Promise<MigrateResult> {
  const migrations = await loadMigrations();
  const latest = migrations.length;
  const applied: number[] = [];
  const client = await pool.connect();
  try {
    for (;;) {
      await client.query("BEGIN");
      try {
        const current = await lockAndReadVersion(client);
        if (current > latest) {
          throw new Error(
            `database schema version ${current} is newer than this sagad (knows up to ${latest}); upgrade sagad`,
          );
        }
        const next = migrations[current];
        if (!next) {
          await client.query("COMMIT");
          return { applied, version: current };
        }
        const label = `${String(next.version).padStart(4, "0")}_${next.name}`;
        try {
          await client.query(next.sql);
        } catch (err) {
          throw new Error(`migration ${label} failed: ${(err as Error).message}`, { cause: err });
        }
        await client.query(
          "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, now())",
          [next.version, next.name],
        );
        await client.query("COMMIT");
        applied.push(next.version);
        options.log?.(`applied migration ${label}`);
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {});
        throw err;
      }
    }
  } finally {
    client.release();
  }
}

/**
 * Takes the migration lock for the current transaction, creates the bookkeeping table on first use
 * (under the lock: concurrent `CREATE TABLE IF NOT EXISTS` can otherwise fail on a unique index of
 * the catalog) and returns the highest applied version, 0 for a fresh database.
 */
async function lockAndReadVersion(client: pg.PoolClient): Promise<number> {
  await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY]);
  await client.query(`
    CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer     PRIMARY KEY,
      name       text        NOT NULL,
      applied_at timestamptz NOT NULL
    )`);
  const { rows } = await client.query<{ version: number | null }>(
    "SELECT max(version) AS version FROM schema_migrations",
  );
  return rows[0]?.version ?? 0;
}
