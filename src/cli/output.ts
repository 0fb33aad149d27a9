import { toJson, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import Table from "cli-table3";
import type { CliContext } from "./context.js";

/** A borderless, left-aligned table like `kubectl get`: easy to read and to `grep`/`awk`. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const table = new Table({
    head: [...headers],
    chars: {
      top: "", "top-mid": "", "top-left": "", "top-right": "",
      bottom: "", "bottom-mid": "", "bottom-left": "", "bottom-right": "",
      left: "", "left-mid": "", mid: "", "mid-mid": "", right: "", "right-mid": "", middle: "  ",
    },
    style: { head: [], border: [], "padding-left": 0, "padding-right": 0 },
  });
  for (const row of rows) table.push([...row]);
  return table.toString().split("\n").map((line) => line.trimEnd()).join("\n");
}

/** Proto JSON of one message: what `-o json` prints, and what `jq` and the API both read. */
export function messageJson<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): unknown {
  return toJson(schema, message, { alwaysEmitImplicit: false });
}

/**
 * Prints one message: proto JSON (indented for json, one line for jsonl), or the table text the
 * command made. Everything goes to stdout; nothing else does, so output can be piped.
 */
export function printOne<Desc extends DescMessage>(ctx: CliContext, schema: Desc, message: MessageShape<Desc>, table: () => string): void {
  if (ctx.output === "table") ctx.out(table());
  else ctx.out(JSON.stringify(messageJson(schema, message), null, ctx.output === "json" ? 2 : undefined));
}

/** Prints a list: a JSON array for json, one object per line for jsonl, else the table. */
export function printList<Desc extends DescMessage>(
  ctx: CliContext,
  schema: Desc,
  items: readonly MessageShape<Desc>[],
  table: () => string,
): void {
  if (ctx.output === "table") {
    ctx.out(table());
  } else if (ctx.output === "json") {
    ctx.out(JSON.stringify(items.map((item) => messageJson(schema, item)), null, 2));
  } else {
    for (const item of items) ctx.out(JSON.stringify(messageJson(schema, item)));
  }
}
