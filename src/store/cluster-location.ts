import { randomBytes } from "node:crypto";
import { lstat, readlink, rename, rm, stat, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { userCan, type PostgresUser } from "./postgres-user.js";
import { reachableFolder } from "./root-shared-dir.js";

/**
 * Where the cluster of `dataDir` lives: `<dataDir>/pgdata`, a folder or a symlink to one.
 *
 * When postgres runs as another user (we are root) and that user cannot enter `dataDir` (a
 * private folder above it), a new cluster is placed in `<sharedDir>/clusters/<id>/pgdata` and
 * `<dataDir>/pgdata` becomes a symlink to it: the data dir stays the one place the user looks
 * (it holds the lock, the password and the link), and the permissions of the user's own folders
 * are never loosened. The symlink is written before initdb, atomically (rename), so a crash at
 * any point leaves either no link (the next start makes a new cluster; nothing was in the old
 * one) or a link to a cluster that initdb may not have finished (the next start redoes it, as
 * for an unfinished `pgdata` folder). `<sharedDir>/clusters/<id>/data-dir` names the data dir the
 * cluster belongs to, for whoever cleans up. An initialised cluster folder that postgres cannot
 * reach (the data dir was made private after the fact) is not moved: that is an error that says so.
 */
export async function clusterLocation(
  dataDir: string,
  user: PostgresUser,
  sharedDir: () => Promise<string>,
  log: (msg: string) => void,
): Promise<string> {
  const link = path.join(dataDir, "pgdata");
  const entry = await lstat(link).catch(() => undefined);
  if (entry?.isSymbolicLink()) return path.resolve(dataDir, await readlink(link));
  if (await userCan(user, 'test -x "$1"', dataDir)) return link;
  if (entry !== undefined && (await exists(path.join(link, "PG_VERSION")))) {
    throw new Error(
      `the postgres user cannot enter ${dataDir} (a folder above it is private), so it cannot reach the cluster in ${link}; make that folder reachable or move the data dir`,
    );
  }
  const home = await reachableFolder(await sharedDir(), "clusters", randomBytes(6).toString("hex"));
  await writeFile(path.join(home, "data-dir"), `${dataDir}\n`);
  const pgdata = path.join(home, "pgdata");
  // An unfinished cluster folder (no PG_VERSION) holds nothing worth keeping.
  await rm(link, { recursive: true, force: true });
  const partial = `${link}.partial-${randomBytes(4).toString("hex")}`;
  await symlink(pgdata, partial);
  await rename(partial, link);
  log(`the postgres user cannot enter ${dataDir}: its cluster lives in ${pgdata} (${link} links to it)`);
  return pgdata;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
