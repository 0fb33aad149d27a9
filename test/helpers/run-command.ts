import { spawn } from "node:child_process";

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion and returns its exit status and output (it does not throw on a
 * non-zero exit). The command runs in its own process group, so on timeout the whole group (npm and
 * the scripts it started) is killed and this rejects.
 */
export function runCommand(
  command: string,
  args: string[],
  options: { cwd: string; timeoutMs: number; env?: NodeJS.ProcessEnv },
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    };
    // If the test process dies first, take the command down with it.
    process.once("exit", killGroup);
    const timer = setTimeout(() => {
      killGroup();
      reject(new Error(`${command} ${args.join(" ")} did not finish within ${options.timeoutMs}ms\n${stdout}\n${stderr}`));
    }, options.timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      process.removeListener("exit", killGroup);
      reject(err);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      process.removeListener("exit", killGroup);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
