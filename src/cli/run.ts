import type { Command } from "commander";
import { CliContext, type CliIo, type GlobalOptions } from "./context.js";
import { describeError } from "./report-error.js";

/** What a command returns: nothing (exit 0) or the exit code it chose (a watch's saga outcome). */
export type CommandResult = void | number;

/** A command's body: the context, its options, then its positional arguments in order. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CommandBody = (ctx: CliContext, options: any, ...args: any[]) => Promise<CommandResult>;

/** Wraps a command body as a commander action (commander passes positionals, options, command). */
export type Run = (body: CommandBody) => (...args: unknown[]) => Promise<void>;

/**
 * Makes the one place every command's errors go: the body runs with a context built from the
 * global flags, and whatever it throws becomes lines on stderr and an exit code in `state`.
 */
export function createRunner(io: CliIo, state: { exitCode: number }): Run {
  return (body) => async (...args) => {
    const command = args.at(-1) as Command;
    const options = args.at(-2);
    const positionals = args.slice(0, -2);
    const globals = command.optsWithGlobals() as GlobalOptions;
    const ctx = new CliContext(globals, io);
    try {
      const code = await body(ctx, options, ...positionals);
      state.exitCode = typeof code === "number" ? code : 0;
    } catch (err) {
      const { lines, code } = describeError(err, globals.url, ctx.locator);
      for (const line of lines) ctx.err(line);
      state.exitCode = code;
    }
  };
}
