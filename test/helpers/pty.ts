import { PROJECT_ROOT } from "./replica-process.js";
import { runCommand } from "./run-command.js";

/** util-linux `script` (Debian's bsdutils): a pseudo-terminal without a native npm module. */
const SCRIPT = "/usr/bin/script";

export interface PtyResult {
  /** The command's own exit code (`script -e` passes it on). */
  code: number | null;
  /** Everything the command wrote to the terminal, stdout and stderr interleaved, `\r\n` kept. */
  output: string;
}

/** `'…'` for sh, whatever the argument holds. */
export function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/**
 * Runs `argv` on a pseudo-terminal of `rows` × `cols` and waits for it to end. The size must be
 * set: a pty nobody sized reports 0 rows, and the CLI then (rightly) falls back to line mode.
 * `env` is added to this process's environment; names in `unsetEnv` are removed (NO_COLOR).
 */
export async function runInPty(
  argv: readonly string[],
  options: { env?: Record<string, string>; unsetEnv?: string[]; rows?: number; cols?: number; timeoutMs?: number } = {},
): Promise<PtyResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: "xterm-256color", ...options.env };
  for (const name of options.unsetEnv ?? []) delete env[name];
  const command = `stty rows ${options.rows ?? 40} cols ${options.cols ?? 140}; exec ${argv.map(shellQuote).join(" ")}`;
  // -q: no "Script started" banner, -f: flush as written, -e: the child's exit code, -c: the command.
  const result = await runCommand(SCRIPT, ["-qfec", command, "/dev/null"], {
    cwd: PROJECT_ROOT,
    env,
    // Under vitest's 30 s test timeout, so a hung command fails with what it printed so far.
    timeoutMs: options.timeoutMs ?? 25_000,
  });
  if (result.stderr !== "") throw new Error(`script: ${result.stderr}`);
  return { code: result.code, output: result.stdout };
}

/** The real CLI (`node --import tsx src/main.ts <args>`) on a pseudo-terminal. */
export function runSagadCliInPty(args: readonly string[], options: Parameters<typeof runInPty>[1] = {}): Promise<PtyResult> {
  return runInPty([process.execPath, "--import", "tsx", "src/main.ts", ...args], options);
}

/**
 * What a terminal would show after each redraw, roughly: the output split at log-update's erase
 * (`ESC[2K`, then `ESC[1A` + `ESC[2K` per line it takes back), escape codes stripped. Each frame
 * is the text written between two erasures, so the last one holds the final table and summary.
 */
export function framesOf(output: string): string[] {
  return output
    .replaceAll("\r\n", "\n")
    .split(/(?:\u001b\[2K(?:\u001b\[1A\u001b\[2K)*\u001b\[G)+/)
    .map(stripAnsi)
    .filter((frame) => frame.trim() !== "");
}

/** Text without CSI sequences (colours, cursor moves, erasures). */
export function stripAnsi(text: string): string {
  return text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, "");
}
