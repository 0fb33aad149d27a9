import { afterEach, beforeEach } from "vitest";
import { createWorker, type Worker, type WorkerLogger, type WorkerOptions } from "../../src/sdk/index.js";
import { FakeWorkerService } from "./fake-worker-service.js";

/** A logger that keeps what it was told, so tests can assert on warnings and stay quiet. */
export function recordingLogger(): WorkerLogger & { lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = [];
  const log = (level: string) => (message: string) => void lines.push({ level, message });
  return { lines, info: log("info"), warn: log("warn"), error: log("error") };
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A fresh fake server per test and a factory for workers pointed at it; every worker is stopped
 * (with no grace) and the server closed after each test, so nothing leaks into the next.
 */
export function useFakeServer(): {
  fake(): FakeWorkerService;
  worker(options: Partial<WorkerOptions> & Pick<WorkerOptions, "actions">): Worker & { logger: ReturnType<typeof recordingLogger> };
} {
  let fake: FakeWorkerService | undefined;
  const workers: Worker[] = [];
  beforeEach(async () => {
    fake = await new FakeWorkerService().listen();
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.stop()));
    await fake?.close();
    fake = undefined;
  });
  return {
    fake: () => fake!,
    worker(options) {
      const logger = recordingLogger();
      const worker = createWorker({ url: fake!.url, token: "sagad_test", logger, stopGraceMs: 0, ...options });
      workers.push(worker);
      return Object.assign(worker, { logger });
    },
  };
}
