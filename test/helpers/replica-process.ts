import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root: where `src/main.ts` and the `tsx` dependency live. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** How a sagad child process ended. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SagadProcessOptions {
  /** Variables added to (or overriding) this process's environment. */
  env?: Record<string, string>;
  /** Variables removed from the inherited environment (e.g. DATABASE_URL for the embedded mode). */
  unsetEnv?: string[];
  /** Command-line flags after `src/main.ts`. */
  args?: string[];
  /** Flags for node itself, before `--import tsx` (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
  /**
   * A compiled entry point (e.g. `dist/src/main.js` after `npm run build`, what the installed
   * package's `sagad` runs) to start with plain node instead of the sources through tsx.
   */
  compiledEntry?: string;
  /**
   * Run it through npm instead, with these arguments (e.g. `["start"]`), as a user or a
   * supervisor (`CMD ["npm", "start"]`) does; the pid is npm's.
   */
  npm?: string[];
  /** Where to run it; default {@link PROJECT_ROOT}. */
  cwd?: string;
  /**
   * Run it as the leader of a new process group (and session), as a shell runs a foreground job,
   * so a test can signal the whole group (`process.kill(-pid, …)`) as a terminal's Ctrl-C does.
   */
  detached?: boolean;
}

/** A sagad started as a real OS process: `node --import tsx src/main.ts`. */
export interface SagadProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<ExitStatus>;
  /** Null while running. */
  exitStatus(): ExitStatus | null;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Everything written to stderr so far (the tail, if it grew very large). */
  stderr(): string;
  /** Sends a signal if the process is still running. */
  signal(signal: NodeJS.Signals): void;
  /** Waits for the exit; throws (leaving the process alone) after `timeoutMs`. */
  waitForExit(timeoutMs: number): Promise<ExitStatus>;
  /**
   * Stops the process whatever state it is in: SIGTERM, then SIGKILL after `graceMs`. For cleanup
   * hooks; never throws.
   */
  stop(graceMs?: number): Promise<ExitStatus>;
}

/** A sagad that printed its `sagad listening on …` line. */
export interface RunningSagad extends SagadProcess {
  readonly port: number;
  readonly url: string;
  readonly replicaId: string;
}

const MAX_CAPTURE = 512 * 1024;
const LISTENING = /^sagad listening on (http:\/\/127\.0\.0\.1:(\d+)) \(replica (.+)\)$/m;

/** Every child not yet known to have exited, so a crashing test run still kills them. */
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** Starts `node --import tsx src/main.ts` (or a compiled entry) in the project root; does not wait for it to be ready. */
export function spawnSagad(options: SagadProcessOptions = {}): SagadProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  for (const name of options.unsetEnv ?? []) delete env[name];
  const entry = options.compiledEntry ? [options.compiledEntry] : ["--import", "tsx", "src/main.ts"];
  const [command, args] = options.npm
    ? ["npm", [...options.npm, ...(options.args ?? [])]]
    : [process.execPath, [...(options.nodeArgs ?? []), ...entry, ...(options.args ?? [])]];
  const child = spawn(command, args, {
    cwd: options.cwd ?? PROJECT_ROOT,
    env,
    detached: options.detached ?? false,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid === undefined) throw new Error("could not spawn sagad");
  live.add(child);
  let out = "";
  let err = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (out = keepTail(out + chunk)));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err = keepTail(err + chunk)));
  let status: ExitStatus | null = null;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once("exit", (code, signal) => {
      status = { code, signal };
      live.delete(child);
      resolve(status);
    });
  });

  const proc: SagadProcess = {
    child,
    pid: child.pid,
    exited,
    exitStatus: () => status,
    stdout: () => out,
    stderr: () => err,
    signal(signal) {
      if (status === null) child.kill(signal);
    },
    async waitForExit(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`sagad (pid ${child.pid}) did not exit within ${timeoutMs}ms\n${describeOutput(proc)}`)),
          timeoutMs,
        );
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    async stop(graceMs = 10_000) {
      if (status !== null) return status;
      child.kill("SIGTERM");
      try {
        return await proc.waitForExit(graceMs);
      } catch {
        child.kill("SIGKILL");
        return exited;
      }
    },
  };
  return proc;
}

/**
 * Starts sagad and waits for its `sagad listening on http://127.0.0.1:PORT (replica ID)` line.
 * If it exits first or does not get there within `readyTimeoutMs`, it is killed and this throws
 * with its output.
 */
export async function startSagad(options: SagadProcessOptions & { readyTimeoutMs?: number } = {}): Promise<RunningSagad> {
  const proc = spawnSagad(options);
  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  try {
    const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`sagad did not report ready within ${timeoutMs}ms`)), timeoutMs);
      const check = () => {
        const m = LISTENING.exec(proc.stdout());
        if (m) finish(null, m);
      };
      const onExit = ({ code, signal }: ExitStatus) => finish(new Error(`sagad exited before it was ready (code ${code}, signal ${signal})`));
      const finish = (err: Error | null, m?: RegExpMatchArray) => {
        clearTimeout(timer);
        proc.child.stdout!.off("data", check);
        if (err) reject(err);
        else resolve(m!);
      };
      proc.child.stdout!.on("data", check);
      void proc.exited.then(onExit);
      check();
    });
    return { ...proc, url: match[1]!, port: Number(match[2]), replicaId: match[3]! };
  } catch (err) {
    await proc.stop(2_000);
    throw new Error(`${(err as Error).message}\n${describeOutput(proc)}`);
  }
}

/** The process's output, for failure messages. */
export function describeOutput(proc: SagadProcess): string {
  return `--- sagad pid ${proc.pid} stdout ---\n${proc.stdout()}--- stderr ---\n${proc.stderr().slice(-8_000)}`;
}

function keepTail(text: string): string {
  return text.length > MAX_CAPTURE ? text.slice(-MAX_CAPTURE) : text;
}
