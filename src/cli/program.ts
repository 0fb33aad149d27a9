import { Command, CommanderError, Option } from "commander";
import { GLOBAL_VALUE_FLAGS } from "./commands.js";
import { runTokenCommand } from "./token-command.js";
import type { CliIo } from "./context.js";
import { addDefinitionCommands } from "./def-commands.js";
import { describeError } from "./report-error.js";
import { EXIT, EXIT_CODES_HELP } from "./exit-codes.js";
import { createRunner } from "./run.js";
import { addSagaCommands } from "./saga-commands.js";
import { addStepCommands, STAND_IN_OUTPUT_FLAG } from "./step-commands.js";
import { addWorkerCommands } from "./worker-commands.js";

/** The first words that make `sagad` the operator CLI instead of the server. */

const DEFAULT_URL = "http://127.0.0.1:8080";

/**
 * `sagad def|saga|step|worker|token …`: the operator CLI. It talks to any running sagad over the
 * generated client (so it works against any replica anywhere); only `token` goes to the database,
 * because it makes the credentials the API needs. Returns the exit code (see exit-codes.ts).
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  if (argv[0] === "token") {
    return runTokenCommand(argv.slice(1), {
      env: io.env,
      stdout: (t) => io.stdout.write(t),
      stderr: (t) => io.stderr.write(t),
    });
  }
  const state = { exitCode: 0 };
  const program = buildProgram(io, state);
  try {
    await program.parseAsync(routeStandInOutput(argv), { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are successes; every parse error is a usage error.
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    const { lines, code } = describeError(err, DEFAULT_URL);
    for (const line of lines) io.stderr.write(`${line}\n`);
    return code;
  }
  return state.exitCode;
}

/** Flags of `step skip` that take a value, so a value spelled `--output` is left alone. */
const SKIP_VALUE_FLAGS: ReadonlySet<string> = new Set([...GLOBAL_VALUE_FLAGS, "--reason", "--output-file"]);

/**
 * `step skip ID STEP --output JSON` gives the stand-in output, as the README shows. Commander lets
 * the program's global `-o, --output FORMAT` claim `--output` anywhere on the line, so the stand-in
 * never reached `step skip` (it exited 2: "argument '{…}' is invalid. Allowed choices are table,
 * json, jsonl"). After `step skip`, `--output` is therefore handed to the command under its own
 * flag; `-o` stays the global format flag there. Every other command line is returned as it is.
 */
export function routeStandInOutput(argv: readonly string[]): string[] {
  const args = [...argv];
  const commandAt: number[] = [];
  for (let i = 0; i < args.length && commandAt.length < 2; i++) {
    if (GLOBAL_VALUE_FLAGS.has(args[i]!)) i++;
    else if (args[i] === "--") return args;
    else if (!args[i]!.startsWith("-")) commandAt.push(i);
  }
  if (commandAt.length < 2 || args[commandAt[0]!] !== "step" || args[commandAt[1]!] !== "skip") return args;
  for (let i = commandAt[1]! + 1; i < args.length && args[i] !== "--"; i++) {
    const arg = args[i]!;
    if (arg === "--output") args[i] = STAND_IN_OUTPUT_FLAG;
    else if (arg.startsWith("--output=")) args[i] = `${STAND_IN_OUTPUT_FLAG}${arg.slice("--output".length)}`;
    if (arg === "--output" || SKIP_VALUE_FLAGS.has(arg)) i++;
  }
  return args;
}

function buildProgram(io: CliIo, state: { exitCode: number }): Command {
  const program = new Command("sagad")
    .description("sagad's operator CLI: definitions, sagas, steps and workers on a running sagad (run `sagad --help` for the server)")
    .addOption(new Option("--url <url>", "the sagad to talk to").env("SAGAD_URL").default(DEFAULT_URL))
    .addOption(new Option("--token <token>", "API token (sagad_…)").env("SAGAD_TOKEN"))
    .addOption(new Option("--protocol <protocol>", "wire protocol").choices(["connect", "grpc", "grpc-web"]).default("connect"))
    .addOption(new Option("-o, --output <format>", "table, json (proto JSON) or jsonl (one object per line)").choices(["table", "json", "jsonl"]).default("table"))
    .option("--no-color", "no colour (there is none off a terminal, or with NO_COLOR set)")
    .showHelpAfterError('(run with --help for usage)')
    .addHelpCommand(true)
    .addHelpText("after", `\n  token                  create, list, revoke API tokens (sagad token --help)\n\n${EXIT_CODES_HELP}`)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => write(text.replace(/^error: /, "sagad: ")),
    });
  const run = createRunner(io, state);
  addDefinitionCommands(program, run);
  addSagaCommands(program, run);
  addStepCommands(program, run);
  addWorkerCommands(program, run);
  for (const command of program.commands) applyToTree(command);
  return program;
}

/** Subcommands inherit the parent's error handling and output, so usage errors exit with 2. */
function applyToTree(command: Command): void {
  command.exitOverride().showHelpAfterError("(run with --help for usage)");
  for (const child of command.commands) applyToTree(child);
}
