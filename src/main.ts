#!/usr/bin/env node
import { CLI_COMMANDS } from "./cli/commands.js";

/**
 * Entry point of the `sagad` binary: an operator CLI command, or else the server. Each loads only
 * its own modules, so a CLI command does not pay for importing the server (about half its start).
 */
const argv = process.argv.slice(2);
if (argv[0] !== undefined && CLI_COMMANDS.has(argv[0])) {
  const { runCli } = await import("./cli/program.js");
  process.exitCode = await runCli(argv, { env: process.env, stdout: process.stdout, stderr: process.stderr, stdin: process.stdin });
} else {
  const { serve } = await import("./serve.js");
  await serve(argv);
}
