import { PROJECT_ROOT } from "./replica-process.js";
import { runCommand, type CommandResult } from "./run-command.js";

/** A token as sagad prints it: `sagad_<16 hex>_<43 base64url>`. */
export const TOKEN_PATTERN = /sagad_[0-9a-f]{16}_[A-Za-z0-9_-]{43}/;

/**
 * Runs the real CLI, `node --import tsx src/main.ts <args>`, to completion. `env` is added to this
 * process's environment; names in `unsetEnv` are removed (DATABASE_URL for the embedded database).
 */
export function runSagadCli(
  args: string[],
  options: { env?: Record<string, string>; unsetEnv?: string[]; timeoutMs?: number } = {},
): Promise<CommandResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  for (const name of options.unsetEnv ?? []) delete env[name];
  return runCommand(process.execPath, ["--import", "tsx", "src/main.ts", ...args], {
    cwd: PROJECT_ROOT,
    env,
    timeoutMs: options.timeoutMs ?? 60_000,
  });
}
