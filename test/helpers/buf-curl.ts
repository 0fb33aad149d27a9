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

/** Runs the real `buf curl` (from node_modules) with no schema flag, so the schema must come from reflection; never throws on failure. */
export function bufCurl(...args: string[]): Promise<CommandResult> {
  return runCommand(BUF, ["curl", ...args], { cwd: process.cwd(), timeoutMs: 20_000 });
}
