import type { Command } from "commander";
import {
  DefinitionSchema,
  DefinitionSpecSchema,
  DefinitionState,
  RegisterDefinitionResponseSchema,
  RenderDefinitionResponseSchema,
  type Definition,
  type RegisterDefinitionResponse,
} from "../client/index.js";
import type { CliContext } from "./context.js";
import { CliError, EXIT } from "./exit-codes.js";
import { colorStatus, definitionStateName, formatTime } from "./format.js";
import { printList, printOne, renderTable } from "./output.js";
import { readSpecFile } from "./spec-file.js";
import { collect, gatherVars, parseDefinitionRef, parsePairs } from "./vars.js";
import type { Run } from "./run.js";

/** `sagad def …`: definitions, registered from files and read back, as a deploy pipeline uses them. */
export function addDefinitionCommands(program: Command, run: Run): void {
  const def = program.command("def").description("register and inspect saga definitions");

  def
    .command("register")
    .description("register definition files (YAML or JSON); an unchanged file keeps its version")
    .requiredOption("-f, --file <file...>", "definition file(s)")
    .option("--expect-version <n>", "fail unless the latest version is N (-1: none yet)", parseInteger)
    .action(run(async (ctx, opts: { file: string[]; expectVersion?: number }) => {
      // Every file is read and checked before any is sent, so a bad file registers nothing; if
      // the server refuses one, the files registered before it are still reported.
      const files = [];
      for (const path of opts.file) files.push(await readSpecFile(path, DefinitionSpecSchema));
      const results: { path: string; response: RegisterDefinitionResponse }[] = [];
      try {
        for (const file of files) {
          const response = await ctx.withLocator(file.locate, () =>
            ctx.definitions().registerDefinition({ spec: file.message, expectedLatestVersion: opts.expectVersion ?? 0 }),
          );
          results.push({ path: file.path, response });
        }
      } finally {
        // JSON prints the whole response per file, not just the definition: whether it was
        // registered or unchanged (`created`) is what a deploy pipeline branches on.
        if (results.length > 0) {
          printList(ctx, RegisterDefinitionResponseSchema, results.map((r) => r.response), () =>
            renderTable(["FILE", "NAME", "VERSION", "RESULT"], results.map(({ path, response: { definition, created } }) => [
              path, definition?.spec?.name ?? "", String(definition?.version ?? ""), created ? "registered" : "unchanged",
            ])));
        }
      }
    }));

  def
    .command("list")
    .description("the latest version of every definition")
    .option("--prefix <prefix>", "names starting with this")
    .option("--label <k=v>", "only definitions with this label (repeatable)", collect)
    .action(run(async (ctx, opts: { prefix?: string; label?: string[] }) => {
      const labels = parsePairs("--label", opts.label ?? []);
      const all: Definition[] = [];
      let pageToken = "";
      do {
        const page = await ctx.definitions().listDefinitions({ namePrefix: opts.prefix ?? "", labels, pageSize: 1000, pageToken });
        all.push(...page.definitions);
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      printList(ctx, DefinitionSchema, all, () => definitionTable(ctx, all));
    }));

  def
    .command("get")
    .argument("<name[@version]>", "a definition; without @version the latest")
    .description("one definition version with its vars schema and steps")
    .action(run(async (ctx, _opts, ref: string) => {
      const { name, version } = parseDefinitionRef(ref);
      const { definition } = await ctx.definitions().getDefinition({ name, version });
      printOne(ctx, DefinitionSchema, definition!, () => describeDefinition(ctx, definition!));
    }));

  def
    .command("versions")
    .argument("<name>")
    .description("every version of a definition, newest first")
    .action(run(async (ctx, _opts, name: string) => {
      const all: Definition[] = [];
      let pageToken = "";
      do {
        const page = await ctx.definitions().listDefinitionVersions({ name, pageSize: 1000, pageToken });
        all.push(...page.definitions);
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      printList(ctx, DefinitionSchema, all, () => definitionTable(ctx, all));
    }));

  def
    .command("render")
    .argument("<name[@version]>")
    .description("dry run: the vars and step plan a saga would get, or the error it would get")
    .option("--var <k=v>", "a var (repeatable)", collect)
    .option("--vars-file <file>", "vars from a YAML or JSON mapping (--var wins)")
    .action(run(async (ctx, opts: { var?: string[]; varsFile?: string }, ref: string) => {
      const { name, version } = parseDefinitionRef(ref);
      const vars = await gatherVars(opts.var ?? [], opts.varsFile);
      const rendered = await ctx.definitions().renderDefinition({ name, version, vars });
      for (const warning of rendered.warnings) ctx.err(`sagad: warning: ${warning}`);
      printOne(ctx, RenderDefinitionResponseSchema, rendered, () => [
        `${name}@${rendered.version}`,
        "",
        renderTable(["VAR", "VALUE"], Object.entries(rendered.vars).sort().map(([k, v]) => [k, v])),
        "",
        renderTable(["STEP", "ACTION", "DEPENDS ON", "CONFIG"], rendered.steps.map((s) => [
          s.name, s.action, s.dependsOn.join(",") || "-", JSON.stringify(s.config ?? {}),
        ])),
      ].join("\n"));
    }));

  for (const [verb, state] of [["activate", DefinitionState.ACTIVE], ["deprecate", DefinitionState.DEPRECATED], ["disable", DefinitionState.DISABLED]] as const) {
    def
      .command(verb)
      .argument("<name@version>")
      .description(`set a version ${definitionStateName(state)}${state === DefinitionState.DISABLED ? " (new sagas are refused; running ones go on)" : ""}`)
      .action(run(async (ctx, _opts, ref: string) => {
        const { name, version } = parseDefinitionRef(ref, true);
        const { definition } = await ctx.definitions().setDefinitionState({ name, version, state });
        printOne(ctx, DefinitionSchema, definition!, () => `${name}@${version} is ${definitionStateName(definition!.state)}`);
      }));
  }
}

function parseInteger(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n)) throw new CliError(`"${text}" is not an integer`, EXIT.USAGE);
  return n;
}

function definitionTable(ctx: CliContext, definitions: readonly Definition[]): string {
  return renderTable(["NAME", "VERSION", "STATE", "STEPS", "CREATED", "BY", "DESCRIPTION"], definitions.map((d) => [
    d.spec?.name ?? "", String(d.version), colorStatus(ctx, definitionStateName(d.state)), String(d.stepCount),
    formatTime(d.createTime), d.createdBy, d.spec?.description ?? "",
  ]));
}

function describeDefinition(ctx: CliContext, d: Definition): string {
  const spec = d.spec!;
  const header = [
    `Name:        ${spec.name}@${d.version}`,
    `State:       ${colorStatus(ctx, definitionStateName(d.state))}`,
    `Description: ${spec.description}`,
    `Labels:      ${Object.entries(spec.labels).map(([k, v]) => `${k}=${v}`).join(", ") || "-"}`,
    `Created:     ${formatTime(d.createTime)} by ${d.createdBy || "-"}`,
    `Spec hash:   ${d.specHash}`,
    `Vars schema: ${spec.varsSchema ? JSON.stringify(spec.varsSchema) : "-"}`,
  ];
  const steps = renderTable(["STEP", "ACTION", "DEPENDS ON", "COMPENSATE"], spec.steps.map((s) => [
    s.name, s.action, s.dependsOn.join(",") || "-", s.compensate?.action ?? "-",
  ]));
  return `${header.join("\n")}\n\n${steps}`;
}
