import type { Logger } from "pino";

/** Whether this replica should get traffic, and if not, why (for /readyz and logs). */
export type Readiness = { readonly ready: true; readonly reason: null } | { readonly ready: false; readonly reason: string };

/** A cheap "does the database answer?" check; see store/database-probe.ts. */
export interface HealthProbe {
  /** Resolves if the database answered in time; rejects otherwise. */
  check(): Promise<void>;
  close(): Promise<void>;
}

export interface HealthMonitorOptions {
  probe: HealthProbe;
  /** Pause between the end of one probe and the start of the next. */
  intervalMs: number;
  logger: Logger;
}

const READY: Readiness = { ready: true, reason: null };

/**
 * The one health state of a sagad instance, behind both gRPC health and GET /readyz, so they can
 * never disagree. Ready means: migrations ran, the last database probe answered, and the server is
 * not draining. Draining wins over everything and is final: a replica that started to shut down
 * never becomes ready again. Listeners hear every change of readiness (not every probe).
 */
export class HealthMonitor {
  private migrated = false;
  private draining = false;
  private databaseProblem: string | null = "the database has not been probed yet";
  private readonly listeners = new Set<(readiness: Readiness) => void>();
  private timer: NodeJS.Timeout | null = null;
  private probing: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Changes before start() are set-up, not news: they are not logged. */
  private started = false;

  constructor(private readonly opts: HealthMonitorOptions) {}

  /** Migrations are done: the schema is the one this code expects. */
  markMigrated(): void {
    this.update(() => (this.migrated = true));
  }

  /** Probes once (so a freshly built server answers truthfully at once), then every interval. */
  async start(): Promise<void> {
    this.started = true;
    this.probing = this.probe();
    await this.probing;
    this.schedule();
  }

  /** Shutdown began: not ready from now on, whatever the database says. */
  drain(): void {
    this.update(() => (this.draining = true));
  }

  /** Stops probing and closes the probe's connection; readiness stays as it was. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.probing;
    await this.opts.probe.close();
  }

  readiness(): Readiness {
    if (this.draining) return { ready: false, reason: "draining: sagad is shutting down" };
    if (!this.migrated) return { ready: false, reason: "database migrations have not run yet" };
    if (this.databaseProblem !== null) return { ready: false, reason: this.databaseProblem };
    return READY;
  }

  /** Calls `listener` with the new readiness on every change; returns the unsubscribe function. */
  onChange(listener: (readiness: Readiness) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.probing = this.probe().finally(() => this.schedule());
    }, this.opts.intervalMs);
  }

  private async probe(): Promise<void> {
    let problem: string | null = null;
    let error: unknown;
    try {
      await this.opts.probe.check();
    } catch (err) {
      error = err;
      problem = `the database does not answer (${describe(err)})`;
    }
    if (this.stopped) return;
    this.update(() => (this.databaseProblem = problem), error);
  }

  private update(change: () => void, err?: unknown): void {
    const before = this.readiness();
    change();
    const after = this.readiness();
    if (before.ready === after.ready && before.reason === after.reason) return;
    if (this.started) {
      if (after.ready) this.opts.logger.info("ready: serving");
      // Draining is the normal way out, not a problem.
      else if (this.draining) this.opts.logger.info({ reason: after.reason }, "not ready");
      else this.opts.logger.warn({ reason: after.reason, err }, "not ready");
    }
    for (const listener of this.listeners) listener(after);
  }
}

/** An error's code (SQLSTATE or errno name) or message, without addresses or credentials. */
function describe(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && code !== "") return code;
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === "string" && message !== "" ? message.slice(0, 200) : String(err);
}
