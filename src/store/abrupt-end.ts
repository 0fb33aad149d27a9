/**
 * Last-resort cleanup for a process that runs an embedded postgres: what must happen if the process
 * ends without the orderly stop() (an exit, a crash, or a fatal signal nobody handles).
 */

/** What to do, synchronously, if this process ends without stop(): stop postgres, drop locks. */
const abruptEndActions = new Set<() => void>();

/** Signals that end a process that has no listener for them. */
const FATAL_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const;

/**
 * Registers `action` to run (synchronously, newest first) if this process ends while it is
 * registered: on `exit` (process.exit, a crash, an empty event loop), and on a fatal signal that
 * nothing else in the process listens for. The latter matters because postgres runs in its own
 * process group: a terminal's Ctrl-C no longer reaches it, and Node dies of an unhandled signal
 * without an `exit` event, so before main.ts installs its shutdown handlers (or in a process that
 * never does) the signal would leave postgres running. Returns the function that unregisters
 * `action`. After SIGKILL nothing runs; the next start cleans up instead.
 */
export function whenEndingAbruptly(action: () => void): () => void {
  if (abruptEndActions.size === 0) {
    process.on("exit", runAbruptEndActions);
    // Prepended, so that it sees every listener registered when the signal came, including
    // `once` ones that remove themselves when called.
    if (process.platform !== "win32") for (const signal of FATAL_SIGNALS) process.prependListener(signal, onFatalSignal);
  }
  abruptEndActions.add(action);
  return () => {
    if (abruptEndActions.delete(action) && abruptEndActions.size === 0) stopWatchingForAbruptEnd();
  };
}

function runAbruptEndActions(): void {
  for (const action of [...abruptEndActions].reverse()) action();
}

function stopWatchingForAbruptEnd(): void {
  process.removeListener("exit", runAbruptEndActions);
  for (const signal of FATAL_SIGNALS) process.removeListener(signal, onFatalSignal);
}

function onFatalSignal(signal: NodeJS.Signals): void {
  // Someone else handles it (main.ts: graceful shutdown, then stop()): leave it to them.
  if (process.listenerCount(signal) > 1) return;
  // Nobody does, so the signal would have killed us: stop postgres first, then die of it anyway
  // (with our listeners gone, the signal's default action applies again).
  runAbruptEndActions();
  abruptEndActions.clear();
  stopWatchingForAbruptEnd();
  process.kill(process.pid, signal);
}
