import { spawn, type ChildProcess } from "node:child_process";
import { PROJECT_ROOT } from "../helpers/replica-process.js";
import { compileBenchScript } from "./floor-process.js";

const CHILD_IPC = "test/bench/child-ipc.ts";

/**
 * A bench helper process (a worker, a holder of idle sessions) that talks to the bench over IPC:
 * it sends `{ type: "ready" }` once it is set up, and answers every `{ id, ... }` request with
 * `{ id, reply }`.
 */
export interface BenchChild {
  readonly pid: number;
  request<T>(message: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** SIGTERM, then SIGKILL after `graceMs`; never throws. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts `script` (a file under test/bench) with `config` as JSON in BENCH_CHILD_CONFIG, compiled
 * like the replicas (`dist/`) unless `fromSource`, and waits for its ready message.
 */
export async function startBenchChild(script: string, config: unknown, fromSource: boolean, readyTimeoutMs = 60_000): Promise<BenchChild> {
  if (!fromSource) await compileBenchScript(CHILD_IPC); // the one local module child scripts import
  const entry = fromSource ? ["--import", "tsx", script] : [await compileBenchScript(script)];
  const child: ChildProcess = spawn(process.execPath, entry, {
    cwd: PROJECT_ROOT,
    env: { ...process.env, BENCH_CHILD_CONFIG: JSON.stringify(config) },
    stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
  let err = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err = (err + chunk).slice(-8_000)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const kill = () => child.kill("SIGKILL");
  process.once("exit", kill); // a crashing bench must not leave it behind
  const pending = new Map<number, (reply: unknown) => void>();
  let nextId = 1;
  let ready!: () => void;
  const readyMessage = new Promise<void>((resolve) => (ready = resolve));
  child.on("message", (m: { type?: string; id?: number; reply?: unknown }) => {
    if (m.type === "ready") ready();
    else if (m.id !== undefined) pending.get(m.id)?.(m.reply);
  });
  const stop = async (graceMs = 10_000) => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const timer = setTimeout(kill, graceMs);
    await exited;
    clearTimeout(timer);
    process.off("exit", kill);
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      readyMessage,
      exited.then(() => Promise.reject(new Error(`${script} exited before it was ready`))),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${script} not ready within ${readyTimeoutMs} ms`)), readyTimeoutMs))),
    ]);
  } catch (e) {
    await stop(2_000);
    throw new Error(`${(e as Error).message}\n--- stderr ---\n${err}`);
  } finally {
    clearTimeout(timer);
  }
  return {
    pid: child.pid!,
    request<T>(message: Record<string, unknown>, timeoutMs = 30_000): Promise<T> {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const t = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${script}: no answer to ${JSON.stringify(message)} within ${timeoutMs} ms\n${err}`));
        }, timeoutMs);
        pending.set(id, (reply) => {
          clearTimeout(t);
          pending.delete(id);
          resolve(reply as T);
        });
        child.send({ ...message, id });
      });
    },
    stop,
  };
}
