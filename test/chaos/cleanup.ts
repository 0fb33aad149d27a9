/**
 * Everything the harness starts (replicas, databases, Postgres clusters, HTTP servers) registers
 * how to undo it here, so every exit path — normal end, a thrown error, Ctrl-C or SIGTERM — leaves
 * no process or database behind. Undo runs last-in first-out (replicas stop before their database
 * is dropped), each step bounded in time so a wedged one cannot keep the harness alive.
 */
export class Cleanup {
  private readonly steps: Step[] = [];
  private running: Promise<void> | null = null;

  constructor(private readonly log: (msg: string) => void) {}

  /** Registers `run`; the returned function runs it now (once) and unregisters it. */
  add(name: string, run: () => Promise<unknown>, timeoutMs = 30_000): () => Promise<void> {
    let done: Promise<void> | null = null;
    const step: Step = { name, timeoutMs, run: () => (done ??= run().then(() => undefined)) };
    this.steps.push(step);
    return async () => {
      const i = this.steps.indexOf(step);
      if (i >= 0) this.steps.splice(i, 1);
      await this.runStep(step);
    };
  }

  /** A scope (one scenario's resources) undone as a whole by `close`, or with everything else on exit. */
  child(name: string): Cleanup & { close(): Promise<void> } {
    const scope = new Cleanup(this.log);
    const close = this.add(name, () => scope.runAll(), 180_000);
    return Object.assign(scope, { close });
  }

  /** Runs every registered step, newest first; never throws (failures are logged). */
  runAll(): Promise<void> {
    this.running ??= (async () => {
      while (this.steps.length > 0) await this.runStep(this.steps.pop()!);
    })().finally(() => (this.running = null));
    return this.running;
  }

  /**
   * On SIGINT/SIGTERM: clean up, then exit 130/143. A second signal exits at once (the process
   * exit hook of replica-process.ts still SIGKILLs any replica left).
   */
  onSignals(): void {
    let received = false;
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      process.on(signal, () => {
        const code = signal === "SIGINT" ? 130 : 143;
        if (received) process.exit(code);
        received = true;
        this.log(`${signal}: cleaning up (send it again to exit at once)`);
        void this.runAll().finally(() => process.exit(code));
      });
    }
  }

  private async runStep(step: Step): Promise<void> {
    const { timeoutMs } = step;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
    try {
      if ((await Promise.race([step.run(), timeout])) === "timeout") this.log(`cleanup: ${step.name} did not finish in ${timeoutMs} ms`);
    } catch (err) {
      this.log(`cleanup: ${step.name} failed: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }
}

interface Step {
  name: string;
  timeoutMs: number;
  run: () => Promise<void>;
}
