import path from "node:path";
import { runCommand, type CommandResult } from "./run-command.js";

const BUF = path.resolve("node_modules/.bin/buf");

/**
 * The bearer header for SagaService calls. Reflection and health are public; buf curl does not
 * send -H headers to reflection unless asked with --reflect-header, which proves that.
 */
export function bearer(token: string): string[] {
  return ["-H", `Authorization: Bearer ${token}`];
}

/** `buf curl` with no schema flag: the schema must come from reflection. */
export function bufCurlArgs(...args: string[]): string[] {
  return ["curl", ...args];
}

/** Runs the real buf CLI (from node_modules) and returns its outcome without throwing on failure. */
export function bufCurl(...args: string[]): Promise<CommandResult> {
  return runCommand(BUF, bufCurlArgs(...args), { cwd: process.cwd(), timeoutMs: 20_000 });
}
