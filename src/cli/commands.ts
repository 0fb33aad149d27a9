/** The first arguments that make `sagad` the operator CLI rather than the server. */
export const CLI_COMMANDS: ReadonlySet<string> = new Set(["def", "saga", "step", "worker", "token", "help"]);

/** The CLI's global flags that take a value (as their own next argument): that value is never a command. */
export const GLOBAL_VALUE_FLAGS: ReadonlySet<string> = new Set(["--url", "--token", "--protocol", "-o", "--output"]);

/**
 * Whether `argv` is an operator CLI command: its first word, after any of the CLI's global flags
 * (`sagad --url U -o json saga list` as well as `sagad saga list --url U -o json`), is a command.
 * None of those flags is a server flag, so a server command line is never taken for the CLI.
 */
export function isCliCommand(argv: readonly string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (GLOBAL_VALUE_FLAGS.has(arg)) i++;
    else if (arg !== "--no-color" && !/^(--(url|token|protocol|output)=|-o.)/.test(arg)) return CLI_COMMANDS.has(arg);
  }
  return false;
}
