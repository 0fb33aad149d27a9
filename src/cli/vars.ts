import { readFile } from "node:fs/promises";
import { CliError, EXIT } from "./exit-codes.js";
import { parseYamlText } from "./yaml-text.js";

/** `--var k=v` and `--label k=v`: repeatable flags that commander collects into a list. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * Parses `k=v` pairs (the value may hold `=`), naming the flag and the bad pair on error. A
 * later pair wins over an earlier one with the same key, as it does in most CLIs.
 */
export function parsePairs(flag: string, pairs: readonly string[]): Record<string, string> {
  const result: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new CliError(`${flag} "${pair}": expected KEY=VALUE`, EXIT.USAGE);
    result[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return result;
}

/**
 * A vars file (YAML or JSON): a mapping of names to scalars. Vars travel as strings (the server
 * converts them to the types the definition's schema declares), so numbers and booleans are sent
 * as their text.
 */
export async function readVarsFile(path: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new CliError(`--vars-file ${path}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`, EXIT.USAGE);
  }
  const { value } = parseYamlText(path, text);
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw new CliError(`${path}:1:1: expected a mapping of var names to values`, EXIT.USAGE);
  const vars: Record<string, string> = {};
  for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
    if (v !== null && typeof v === "object") throw new CliError(`${path}: vars["${name}"]: expected a string, number or boolean`, EXIT.USAGE);
    vars[name] = v === null ? "" : String(v);
  }
  return vars;
}

/** Vars from `--vars-file` first, then `--var` flags on top: the command line has the last word. */
export async function gatherVars(pairs: readonly string[], file: string | undefined): Promise<Record<string, string>> {
  const fromFile = file === undefined ? {} : await readVarsFile(file);
  return { ...fromFile, ...parsePairs("--var", pairs) };
}

/** `NAME@3` → { name: "NAME", version: 3 }; `NAME` → version 0 (the latest). */
export function parseDefinitionRef(text: string, requireVersion = false): { name: string; version: number } {
  const at = text.lastIndexOf("@");
  if (at < 0) {
    if (requireVersion) throw new CliError(`"${text}": expected NAME@VERSION`, EXIT.USAGE);
    return { name: text, version: 0 };
  }
  const version = Number(text.slice(at + 1));
  if (!Number.isInteger(version) || version < 1) throw new CliError(`"${text}": the version after @ must be a positive integer`, EXIT.USAGE);
  return { name: text.slice(0, at), version };
}
