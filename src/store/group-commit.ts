import { isTransientPgError } from "./pool.js";

interface Pending<Row, Result> {
  row: Row;
  resolve(result: Result): void;
  reject(err: unknown): void;
}

/** Sizing of the batching; the defaults suit one replica on a small machine. */
export interface BatchOptions {
  /** Most writes per statement. */
  maxBatch: number;
  /** Statements in flight at once (each holds a pooled connection). */
  maxInFlight: number;
}

export const DEFAULT_BATCH_OPTIONS: BatchOptions = { maxBatch: 128, maxInFlight: 2 };

/**
 * Group commit: writes of different sagas sharing one statement and one transaction. A write is
 * sent at once when a statement slot is free (no added latency when idle); while every slot is
 * busy, writes queue and go out together in the next statement. Every transaction that sends
 * NOTIFY takes a global lock at commit, so one saga per transaction caps the whole cluster at a
 * few thousand commits a second; a batch pays that once. Each caller still learns its own
 * outcome; a batch never holds two writes for one saga (the second waits for the next batch, so
 * their order holds), and a batch failing for a non-transient reason is retried write by write,
 * so one bad write fails only its own caller.
 */
export class GroupCommit<Row extends { id: string }, Result> {
  private readonly queue: Pending<Row, Result>[] = [];
  private inFlight = 0;

  /**
   * `execute` writes the rows in one statement and returns the result of each row it wrote, by
   * saga id (lower case); rows it did not write (fenced out, already there) get `absent`.
   */
  constructor(
    private readonly execute: (rows: readonly Row[]) => Promise<Map<string, Result>>,
    private readonly absent: Result,
    private readonly options: BatchOptions = DEFAULT_BATCH_OPTIONS,
  ) {}

  write(row: Row): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.queue.push({ row, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.takeBatch();
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private takeBatch(): Pending<Row, Result>[] {
    const batch: Pending<Row, Result>[] = [];
    const ids = new Set<string>();
    const rest: Pending<Row, Result>[] = [];
    for (const pending of this.queue) {
      if (batch.length < this.options.maxBatch && !ids.has(pending.row.id)) {
        ids.add(pending.row.id);
        batch.push(pending);
      } else {
        rest.push(pending);
      }
    }
    this.queue.splice(0, this.queue.length, ...rest);
    return batch;
  }

  private async run(batch: Pending<Row, Result>[]): Promise<void> {
    try {
      const results = await this.execute(batch.map((p) => p.row));
      for (const p of batch) p.resolve(results.get(p.row.id.toLowerCase()) ?? this.absent);
    } catch (err) {
      if (batch.length === 1 || isTransientPgError(err)) {
        for (const p of batch) p.reject(err);
        return;
      }
      for (const p of batch) await this.run([p]);
    }
  }
}
