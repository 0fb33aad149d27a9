import { chmod, mkdir, stat } from "node:fs/promises";
import path from "node:path";

/** Where root keeps what the postgres user must reach, unless configured otherwise. */
export const DEFAULT_ROOT_POSTGRES_DIR = "/var/lib/sagad";

/**
 * Makes `dir` (root's folder for the embedded PostgreSQL's programs and clusters, see
 * postgres-runtime.ts and cluster-location.ts) and checks that nobody but root can write to it:
 * the postgres user runs programs from it, so a folder others can write would let them run code
 * as that user. Returns `dir`. Only called when it is needed, so a sagad that never needs it
 * never creates it.
 */
export async function rootSharedDir(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const info = await stat(dir);
  if (info.uid !== 0 || (info.mode & 0o022) !== 0) {
    throw new Error(
      `${dir} must belong to root and be writable by root alone (it is owned by uid ${info.uid}, mode ${(info.mode & 0o777).toString(8)})`,
    );
  }
  if ((info.mode & 0o055) !== 0o055) await chmod(dir, 0o755);
  return dir;
}

/**
 * `parent/child` created if missing, rwxr-xr-x whatever the umask, so the postgres user can pass
 * through it; `parent` must exist and be ours (see {@link rootSharedDir}).
 */
export async function reachableFolder(parent: string, ...children: string[]): Promise<string> {
  let dir = parent;
  for (const child of children) {
    dir = path.join(dir, child);
    await mkdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "EEXIST") throw err;
    });
    await chmod(dir, 0o755);
  }
  return dir;
}
