import { createInterface } from "node:readline/promises";
import { ConnectError } from "@connectrpc/connect";
import type { Command } from "commander";
import { DeleteSagaResponseSchema, SagaSchema, type DeleteSagaResponse, type Saga } from "../client/index.js";
import type { CliContext } from "./context.js";
import { CliError, EXIT } from "./exit-codes.js";
import { colorStatus, sagaStatusName } from "./format.js";
import { messageJson, printOne, renderTable } from "./output.js";
import { codeToName } from "./report-error.js";
import { findSagas, parseLimit, type SagaFilterOptions } from "./saga-filters.js";
import { sagaRows } from "./saga-view.js";
import { collect } from "./vars.js";
import type { Run } from "./run.js";

type Verb = "retry" | "rollback" | "cancel" | "delete";

interface ControlOptions extends SagaFilterOptions {
  reason?: string;
  force?: boolean;
  yes?: boolean;
}

const DESCRIPTIONS: Record<Verb, string> = {
  retry: "run a FAILED saga again from where it failed",
  rollback: "compensate the completed steps of a FAILED saga, in reverse dependency order",
  cancel: "stop a saga and compensate what it did",
  delete: "delete a resting saga and its history (FAILED and COMPENSATION_FAILED need --force)",
};

/** Verbs that may act on every saga a filter matches; the others take one id only. */
const BULK: ReadonlySet<Verb> = new Set(["retry", "cancel"]);

/**
 * `saga retry|rollback|cancel|delete ID`, and for retry and cancel the bulk form: with filters
 * instead of an id, it shows what it would touch and asks first (`--yes` for scripts).
 */
export function addBulkControlCommands(saga: Command, run: Run): void {
  for (const verb of ["retry", "rollback", "cancel", "delete"] as const) {
    const command = saga
      .command(verb)
      .argument(BULK.has(verb) ? "[id]" : "<id>")
      .description(DESCRIPTIONS[verb] + (BULK.has(verb) ? "; without an id, every saga the filters match" : ""))
      .option("--reason <text>", verb === "delete" ? "why; logged by the server with your token's name (the history goes with the saga)" : "why; recorded in the saga's history with your token's name");
    if (verb === "delete") command.option("--force", "also delete a FAILED or COMPENSATION_FAILED saga, whose side effects may not be undone");
    if (BULK.has(verb)) {
      command
        .option("--status <list>", "bulk: sagas in these statuses, e.g. failed")
        .option("--def <name[@version]>", "bulk: only sagas of this definition")
        .option("--label <k=v>", "bulk: only sagas with this label (repeatable)", collect)
        .option("--since <when>", "bulk: created in the last 30m / 1h / 2d")
        .option("--limit <n>", "bulk: at most N sagas (default: all matches)", parseLimit)
        .option("--yes", "bulk: do not ask for confirmation");
    }
    command.action(run(async (ctx, opts: ControlOptions, id: string | undefined) => {
      if (id !== undefined) {
        const result = await control(ctx, verb, id, opts);
        if (result.$typeName === DeleteSagaResponseSchema.typeName) printOne(ctx, DeleteSagaResponseSchema, result, () => `${id} deleted`);
        else printOne(ctx, SagaSchema, result, () => `${result.id}  ${colorStatus(ctx, sagaStatusName(result.status))}`);
        return;
      }
      return bulk(ctx, verb, opts);
    }));
  }
}

/** The saga as the operation left it, or for delete the server's answer (it names the id). */
async function control(ctx: CliContext, verb: Verb, id: string, opts: ControlOptions): Promise<Saga | DeleteSagaResponse> {
  const reason = opts.reason ?? "";
  const client = ctx.sagas();
  switch (verb) {
    case "retry":
      return (await client.retrySaga({ id, reason })).saga!;
    case "rollback":
      return (await client.rollbackSaga({ id, reason })).saga!;
    case "cancel":
      return (await client.cancelSaga({ id, reason })).saga!;
    case "delete":
      return client.deleteSaga({ id, reason, force: opts.force === true });
  }
}

async function bulk(ctx: CliContext, verb: Verb, opts: ControlOptions): Promise<number> {
  if (opts.status === undefined) throw new CliError(`saga ${verb}: give a saga id, or --status (with other filters) for many`, EXIT.USAGE);
  if (opts.reason === undefined || opts.reason.trim() === "") throw new CliError(`saga ${verb} --status: a bulk ${verb} needs --reason`, EXIT.USAGE);
  const { sagas } = await findSagas(ctx, { ...opts, all: opts.limit === undefined });
  if (sagas.length === 0) {
    ctx.err(`sagad: no saga matches; nothing to ${verb}`);
    return EXIT.OK;
  }
  ctx.err(`${verb} would act on ${sagas.length} saga(s):`);
  ctx.err(sagaRows(ctx, sagas));
  if (opts.yes !== true && !(await confirm(ctx, `${verb} these ${sagas.length} saga(s)? [y/N] `))) {
    ctx.err("sagad: not confirmed; nothing changed");
    return EXIT.DECLINED;
  }
  const results: BulkResult[] = [];
  for (const saga of sagas) {
    try {
      const result = await control(ctx, verb, saga.id, opts);
      results.push({ id: saga.id, result: "ok", saga: result.$typeName === SagaSchema.typeName ? result : undefined });
    } catch (err) {
      const e = ConnectError.from(err);
      results.push({ id: saga.id, result: codeToName(e.code), error: e.rawMessage });
    }
  }
  printBulkResults(ctx, results);
  const failed = results.filter((r) => r.result !== "ok").length;
  if (failed > 0) {
    ctx.err(`sagad: ${failed} of ${sagas.length} failed (see RESULT)`);
    return EXIT.ERROR;
  }
  return EXIT.OK;
}

interface BulkResult {
  readonly id: string;
  /** `ok`, or the Connect code name of the error. */
  readonly result: string;
  readonly saga?: Saga;
  readonly error?: string;
}

/**
 * The outcome per saga: a table, or with -o json/jsonl one object per saga
 * (`{"id", "result": "ok", "saga": <proto JSON>}` or `{"id", "result": "<CODE>", "error"}`), so a
 * script reading stdout gets JSON as it asked, never the table.
 */
function printBulkResults(ctx: CliContext, results: readonly BulkResult[]): void {
  if (ctx.output === "table") {
    ctx.out(renderTable(["ID", "RESULT", "STATUS OR ERROR"], results.map((r) => [
      r.id, r.result, r.saga !== undefined ? sagaStatusName(r.saga.status) : r.error ?? "",
    ])));
    return;
  }
  const objects = results.map((r) => ({
    id: r.id,
    result: r.result,
    ...(r.saga !== undefined ? { saga: messageJson(SagaSchema, r.saga) } : {}),
    ...(r.error !== undefined ? { error: r.error } : {}),
  }));
  if (ctx.output === "json") ctx.out(JSON.stringify(objects, null, 2));
  else for (const o of objects) ctx.out(JSON.stringify(o));
}

/** Asks on the terminal; off a terminal there is nobody to ask, so the answer is no. */
async function confirm(ctx: CliContext, question: string): Promise<boolean> {
  if (ctx.io.stdin.isTTY !== true) {
    ctx.err("sagad: stdin is not a terminal, so nobody can confirm; pass --yes");
    return false;
  }
  const rl = createInterface({ input: ctx.io.stdin, output: ctx.io.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}
