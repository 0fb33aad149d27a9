/** The first arguments that make `sagad` the operator CLI rather than the server. */
export const CLI_COMMANDS: ReadonlySet<string> = new Set(["def", "saga", "step", "token", "help"]);
