/**
 * SIGTERM/SIGINT handling for a worker process: the first signal starts a graceful stop, a second
 * one asks to stop now (abort in-flight tasks without waiting out the grace). Installing a listener
 * replaces Node's default of exiting at once, so the process exits when stop() has let go of
 * everything, or when the application decides.
 */
export function installSignalHandlers(onStop: () => void, onForce: () => void): () => void {
  let received = 0;
  const handler = (): void => {
    received++;
    if (received === 1) onStop();
    else onForce();
  };
  const signals = ["SIGTERM", "SIGINT"] as const;
  for (const signal of signals) process.on(signal, handler);
  return () => {
    for (const signal of signals) process.off(signal, handler);
  };
}
