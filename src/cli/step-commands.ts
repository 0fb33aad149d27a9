import { readFile } from "node:fs/promises";
import type { JsonObject } from "@bufbuild/protobuf";
import { Option, type Command } from "commander";
import { SagaSchema } from "../client/index.js";
import { CliError, EXIT } from "./exit-codes.js";
import { parseYamlText } from "./yaml-text.js";
import { colorStatus, sagaStatusName } from "./format.js";
import { printOne } from "./output.js";
import type { Run } from "./run.js";

/**
 * The flag `step skip --output JSON` reaches the command under: the global `-o, --output FORMAT`
 * would take `--output` first, so program.ts renames it on a `step skip` command line.
 */
export const STAND_IN_OUTPUT_FLAG = "--stand-in-output";

/** `sagad step …`: an operator's hand on one step of a FAILED saga. */
export function addStepCommands(program: Command, run: Run): void {
  const step = program.command("step").description("retry or skip one step of a saga");

  step
    .command("retry")
    .argument("<id>", "the saga")
    .argument("<step>", "the FAILED step")
    .description("run a FAILED step again, optionally with a new config (it replaces the whole old one)")
    .option("--config-file <file>", "the new config, a YAML or JSON mapping")
    .option("--reason <text>", "why; recorded in the saga's history")
    .action(run(async (ctx, opts: { configFile?: string; reason?: string }, id: string, name: string) => {
      const config = opts.configFile === undefined ? undefined : await readObjectFile("--config-file", opts.configFile);
      const { saga } = await ctx.sagas().retryStep({ id, step: name, config, reason: opts.reason ?? "" });
      printOne(ctx, SagaSchema, saga!, () => `${id}  ${name} retried; saga ${colorStatus(ctx, sagaStatusName(saga!.status))}`);
    }));

  step
    .command("skip")
    .argument("<id>", "the saga")
    .argument("<step>", "the step to skip")
    .description("mark a step SKIPPED with a stand-in output its dependents read")
    // Shown in the help; the value arrives through the hidden flag (see STAND_IN_OUTPUT_FLAG).
    .option("--output <json>", "the stand-in output, a JSON object (default {}); -o still sets the format")
    .addOption(new Option(`${STAND_IN_OUTPUT_FLAG} <json>`).hideHelp())
    .option("--output-file <file>", "the stand-in output from a YAML or JSON file")
    .option("--reason <text>", "why; recorded in the saga's history")
    .action(run(async (ctx, opts: { standInOutput?: string; outputFile?: string; reason?: string }, id: string, name: string) => {
      if (opts.standInOutput !== undefined && opts.outputFile !== undefined) throw new CliError("step skip: give --output or --output-file, not both", EXIT.USAGE);
      const output = opts.standInOutput !== undefined
        ? parseObject("--output", opts.standInOutput, (text) => JSON.parse(text) as unknown)
        : opts.outputFile !== undefined ? await readObjectFile("--output-file", opts.outputFile) : undefined;
      const { saga } = await ctx.sagas().skipStep({ id, step: name, output, reason: opts.reason ?? "" });
      printOne(ctx, SagaSchema, saga!, () => `${id}  ${name} skipped; saga ${colorStatus(ctx, sagaStatusName(saga!.status))}`);
    }));
}

async function readObjectFile(flag: string, path: string): Promise<JsonObject> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new CliError(`${flag} ${path}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`, EXIT.USAGE);
  }
  const { value } = parseYamlText(path, text);
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new CliError(`${path}:1:1: expected a JSON object (a mapping) for ${flag}`, EXIT.USAGE);
  return value as JsonObject;
}

function parseObject(what: string, text: string, parse: (text: string) => unknown): JsonObject {
  let value: unknown;
  try {
    value = parse(text);
  } catch (err) {
    throw new CliError(`${what}: ${(err as Error).message.split("\n")[0]}`, EXIT.USAGE);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new CliError(`${what}: expected a JSON object`, EXIT.USAGE);
  return value as JsonObject;
}
