#!/usr/bin/env node
import { isCliCommand } from "./cli/commands.js";

/**
 * Entry point of the `sagad` binary: an operator CLI command, or else the server. Each loads only
 * its own modules, so a CLI command does not pay for importing the server (about half its start).
 */
const argv = process.argv.slice(2);
if (isCliCommand(argv)) {
  // A reader that goes away (`sagad saga events ID | head`) ends the command quietly, as in any Unix tool.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE") throw err;
    process.exit(process.exitCode ?? 0);
  });
  const { runCli } = await import("./cli/program.js");
  process.exitCode = await runCli(argv, { env: process.env, stdout: process.stdout, stderr: process.stderr, stdin: process.stdin });
} else {
  const { serve } = await import("./serve.js");
  await serve(argv);
}
