import path from "node:path";
import { runCommand, type CommandResult } from "./run-command.js";

const BUF = path.resolve("node_modules/.bin/buf");

/**
 * Headers every `buf curl` call of the tests sends. Once the API needs a bearer token, this is
 * the one line to change: `["-H", "Authorization: Bearer …"]` (reflection itself stays public, and
 * buf curl does not send -H headers to it unless asked with --reflect-header).
 */
export const BUF_CURL_HEADERS: string[] = [];

/** `buf curl` with the shared headers and no schema flag: the schema must come from reflection. */
export function bufCurlArgs(...args: string[]): string[] {
  return ["curl", ...BUF_CURL_HEADERS, ...args];
}

/** Runs the real buf CLI (from node_modules) and returns its outcome without throwing on failure. */
export function bufCurl(...args: string[]): Promise<CommandResult> {
  return runCommand(BUF, bufCurlArgs(...args), { cwd: process.cwd(), timeoutMs: 20_000 });
}
