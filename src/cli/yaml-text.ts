import { isCollection, LineCounter, parseDocument, visit, type Document, type Node } from "yaml";
import { CliError, EXIT } from "./exit-codes.js";

/** A YAML (or JSON) file's text, parsed: its document, its value, and `path:line:col` of an offset. */
export interface YamlText {
  readonly doc: Document;
  readonly value: unknown;
  at(offset: number): string;
}

/**
 * Parses the YAML or JSON text of `path`; every error is `path:line:col: …` (exit 2). A key that
 * is itself a mapping is refused: it is what an unquoted template (`env: {{vars.env}}`) parses
 * to, and YAML would otherwise turn it into a string key and the value into null without a word.
 */
export function parseYamlText(path: string, text: string): YamlText {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): string => {
    const { line, col } = lines.linePos(offset);
    return `${path}:${line}:${col}`;
  };
  const syntaxError = doc.errors[0];
  if (syntaxError !== undefined) throw new CliError(`${at(syntaxError.pos[0])}: ${syntaxError.message.split("\n")[0]}`, EXIT.USAGE);
  let collectionKey: Node | undefined;
  visit(doc, {
    Pair(_, pair) {
      if (!isCollection(pair.key)) return undefined;
      collectionKey = pair.key;
      return visit.BREAK;
    },
  });
  if (collectionKey !== undefined) {
    throw new CliError(
      `${at(collectionKey.range?.[0] ?? 0)}: a mapping used as a key; quote a value that starts with "{", e.g. a template: "{{vars.env}}"`,
      EXIT.USAGE,
    );
  }
  return { doc, value: doc.toJS({ maxAliasCount: 100 }) as unknown, at };
}
