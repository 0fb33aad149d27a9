import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROJECT_ROOT } from "./replica-process.js";
import { runCommand, type CommandResult } from "./run-command.js";

/** A token as sagad prints it: `sagad_<16 hex>_<43 base64url>`. */
export const TOKEN_PATTERN = /sagad_[0-9a-f]{16}_[A-Za-z0-9_-]{43}/;

/** Any ANSI escape sequence (colour, cursor movement): none may reach output that is not a terminal. */
export const ANSI_ESCAPE = /\u001b[[\]()]/;

/**
 * Runs the real CLI, `node --import tsx src/main.ts <args>`, to completion. `env` is added to this
 * process's environment; names in `unsetEnv` are removed (DATABASE_URL for the embedded database).
 */
export function runSagadCli(
  args: string[],
  options: { env?: Record<string, string>; unsetEnv?: string[]; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return runCommand(process.execPath, ["--import", "tsx", "src/main.ts", ...args], {
    cwd: PROJECT_ROOT,
    env: cliEnv(options),
    timeoutMs: options.timeoutMs ?? 60_000,
  });
}

function cliEnv(options: { env?: Record<string, string>; unsetEnv?: string[] }): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  for (const name of options.unsetEnv ?? []) delete env[name];
  return env;
}

export type SagadCli = (...args: string[]) => Promise<CommandResult>;

/**
 * The CLI pointed at one server with one token through SAGAD_URL and SAGAD_TOKEN, as an operator's
 * shell would be (whatever this process's own environment says).
 */
export function sagadCliFor(url: string, token: string): SagadCli {
  return (...args) => runSagadCli(args, { env: { SAGAD_URL: url, SAGAD_TOKEN: token } });
}

/** A CLI process still running: its output so far, a way to wait for a line, and to signal it. */
export interface RunningCli {
  stdout(): string;
  /** Resolves once stdout matches `pattern`; rejects if the process ends first or after `timeoutMs`. */
  waitForStdout(pattern: RegExp, timeoutMs?: number): Promise<void>;
  signal(signal: NodeJS.Signals): void;
  readonly done: Promise<CommandResult>;
}

/** Starts the real CLI without waiting for it, for commands that run until told to stop (`--follow`). */
export function spawnSagadCli(args: string[], options: { env?: Record<string, string> } = {}): RunningCli {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", ...args], {
    cwd: PROJECT_ROOT,
    env: cliEnv(options),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let ended = false;
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const done = new Promise<CommandResult>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      ended = true;
      resolve({ code, signal, stdout, stderr });
    });
  });
  const killer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  void done.finally(() => clearTimeout(killer));
  return {
    stdout: () => stdout,
    async waitForStdout(pattern, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(stdout)) {
        if (ended) throw new Error(`the CLI ended before its stdout matched ${pattern}:\n${stdout}\n${stderr}`);
        if (Date.now() > deadline) throw new Error(`stdout did not match ${pattern} within ${timeoutMs}ms:\n${stdout}\n${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    signal: (signal) => void child.kill(signal),
    done,
  };
}

/** A scratch folder under the OS temp dir holding `files` (name → text). */
export async function writeTempFiles(files: Record<string, string>): Promise<{ dir: string; path(name: string): string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "sagad-cli-"));
  await Promise.all(Object.entries(files).map(([name, text]) => writeFile(join(dir, name), text)));
  return { dir, path: (name) => join(dir, name), remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A URL on a loopback port that was just free and is closed again: connecting to it is refused. */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/**
 * A borderless CLI table (`saga list`, `def versions`, ...) as its header and rows of cells:
 * columns are separated by two or more spaces, and cells hold none.
 */
export function tableRows(stdout: string): { header: string[]; rows: string[][] } {
  const [header = [], ...rows] = stdout.trimEnd().split("\n").map((line) => line.trim().split(/ {2,}/));
  return { header, rows };
}
