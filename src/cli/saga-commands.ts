import { toJson, type MessageInitShape } from "@bufbuild/protobuf";
import type { Command } from "commander";
import { CreateSagaRequestSchema, SagaEventSchema, SagaSchema, watchedEvents } from "../client/index.js";
import type { CliContext } from "./context.js";
import { CliError, EXIT } from "./exit-codes.js";
import { eventLine } from "./format.js";
import { messageJson, printList, printOne } from "./output.js";
import { addBulkControlCommands } from "./saga-bulk.js";
import { findSagas, parseLimit, type SagaFilterOptions } from "./saga-filters.js";
import { describeSaga, sagaRows } from "./saga-view.js";
import { watchSaga } from "./saga-watch.js";
import { readSpecFile } from "./spec-file.js";
import { collect, gatherVars, parseDefinitionRef, parsePairs } from "./vars.js";
import type { Run } from "./run.js";

interface CreateOptions {
  def?: string;
  file?: string;
  var?: string[];
  varsFile?: string;
  name?: string;
  requestId?: string;
  label?: string[];
  watch?: boolean;
}

/** `sagad saga …`: start, find, inspect and follow sagas, and steer them. */
export function addSagaCommands(program: Command, run: Run): void {
  const saga = program.command("saga").description("create, list, inspect, watch and steer sagas");

  saga
    .command("create")
    .description("start a saga from a definition (--def) or from a steps file (-f)")
    .option("--def <name[@version]>", "a registered definition; without @version the latest")
    .option("-f, --file <file>", "a YAML or JSON file shaped like CreateSagaRequest (name, steps, vars, ...)")
    .option("--var <k=v>", "a var (repeatable)", collect)
    .option("--vars-file <file>", "vars from a YAML or JSON mapping (--var wins)")
    .option("--name <name>", "the saga's name (default: the definition's or the file's)")
    .option("--request-id <id>", "makes the create idempotent: the same id returns the same saga")
    .option("--label <k=v>", "a label (repeatable)", collect)
    .option("--watch", "then watch it until it rests; the exit code says how it ended")
    .action(run(async (ctx, opts: CreateOptions) => {
      const request = await createRequest(opts);
      const response = await ctx.withLocator(request.locate, () => ctx.sagas().createSaga(request.message));
      for (const warning of response.warnings) ctx.err(`sagad: warning: ${warning}`);
      const created = response.saga!;
      if (opts.watch !== true) {
        printOne(ctx, SagaSchema, created, () => `${created.id}  ${created.name}  created`);
        return;
      }
      // A watch prints one JSON event per line; the saga goes first on a line of its own, so
      // stdout stays JSON Lines (and names the id, which no event carries). The table watch
      // shows the id in its summary instead.
      if (ctx.output !== "table") ctx.out(JSON.stringify(messageJson(SagaSchema, created)));
      return watchSaga(ctx, created.id);
    }));

  saga
    .command("list")
    .description("sagas, newest first")
    .option("--status <list>", "only these statuses, e.g. failed,running")
    .option("--def <name[@version]>", "only sagas of this definition (and version)")
    .option("--label <k=v>", "only sagas with this label (repeatable)", collect)
    .option("--since <when>", "created in the last 90s / 30m / 1h / 2d, or after an ISO time")
    .option("--limit <n>", "at most N (default 50)", parseLimit)
    .option("--all", "every match, all pages")
    .action(run(async (ctx, opts: SagaFilterOptions) => {
      const { sagas, more } = await findSagas(ctx, opts);
      printList(ctx, SagaSchema, sagas, () => sagaRows(ctx, sagas));
      if (more) ctx.err(`sagad: the newest ${sagas.length} shown; more match (--limit N or --all)`);
    }));

  saga
    .command("get")
    .argument("<id>")
    .description("one saga: failures first, then every step")
    .action(run(async (ctx, _opts, id: string) => {
      const { saga: found } = await ctx.sagas().getSaga({ id });
      printOne(ctx, SagaSchema, found!, () => describeSaga(ctx, found!));
    }));

  saga
    .command("events")
    .argument("<id>")
    .description("the saga's history, one line per event")
    .option("--follow", "keep printing new events (also after the saga rests) until Ctrl-C")
    .action(run(async (ctx, opts: { follow?: boolean }, id: string) => printEvents(ctx, id, opts.follow === true)));

  saga
    .command("watch")
    .argument("<id>")
    .description("follow the saga until it rests: a live table on a terminal, else one line per event")
    .action(run(async (ctx, _opts, id: string) => watchSaga(ctx, id)));

  addBulkControlCommands(saga, run);
}

async function createRequest(opts: CreateOptions): Promise<{ message: MessageInitShape<typeof CreateSagaRequestSchema>; locate: (path: string) => string | undefined }> {
  if ((opts.def === undefined) === (opts.file === undefined)) {
    throw new CliError("saga create: give exactly one of --def NAME[@VERSION] or -f STEPS.yaml", EXIT.USAGE);
  }
  const vars = await gatherVars(opts.var ?? [], opts.varsFile);
  const labels = parsePairs("--label", opts.label ?? []);
  if (opts.def !== undefined) {
    const definitionRef = parseDefinitionRef(opts.def);
    return {
      message: { definitionRef, vars, labels, name: opts.name ?? "", requestId: opts.requestId ?? "" },
      locate: () => undefined,
    };
  }
  const file = await readSpecFile(opts.file!, CreateSagaRequestSchema);
  const message: MessageInitShape<typeof CreateSagaRequestSchema> = {
    ...file.message,
    vars: { ...file.message.vars, ...vars },
    labels: { ...file.message.labels, ...labels },
  };
  if (opts.name !== undefined) message.name = opts.name;
  if (opts.requestId !== undefined) message.requestId = opts.requestId;
  return { message, locate: file.locate };
}

/**
 * History up to now (or, with follow, until Ctrl-C: exit 130, as for watch). Without follow it
 * stops at the sequence the saga had when asked, so it ends even for a running saga.
 */
async function printEvents(ctx: CliContext, id: string, follow: boolean): Promise<number> {
  const { saga } = await ctx.sagas().getSaga({ id });
  const until = saga!.sequence;
  const abort = new AbortController();
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    abort.abort();
  };
  process.once("SIGINT", onSigint);
  const all = [];
  try {
    const stream = ctx.sagas().watchSaga({ id, afterSequence: 0n, follow, batchEvents: true }, { signal: abort.signal });
    for await (const message of stream) {
      for (const event of watchedEvents(message)) {
        if (ctx.output === "json") all.push(toJson(SagaEventSchema, event));
        else if (ctx.output === "jsonl") ctx.out(JSON.stringify(toJson(SagaEventSchema, event)));
        else ctx.out(eventLine(ctx, event));
      }
      const last = watchedEvents(message).at(-1);
      if (!follow && last !== undefined && last.sequence >= until) abort.abort();
    }
  } catch (err) {
    if (!abort.signal.aborted) throw err;
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
  if (ctx.output === "json") ctx.out(JSON.stringify(all, null, 2));
  return interrupted ? EXIT.INTERRUPTED : EXIT.OK;
}
