import { SagaStatus, type Saga, type SagaClient } from "../../src/client/index.js";

/** Statuses in which a saga rests (waits for an operator, or is done). */
export const RESTING = [SagaStatus.COMPLETED, SagaStatus.FAILED, SagaStatus.COMPENSATED, SagaStatus.COMPENSATION_FAILED, SagaStatus.CANCELLED];

/**
 * Waits (via GetSaga polling every 20 ms, independent of WatchSaga) until the saga has one of
 * `statuses`; fails with the last seen status after `timeoutMs`.
 */
export async function waitForStatus(client: SagaClient, id: string, statuses: SagaStatus | SagaStatus[], timeoutMs = 10_000): Promise<Saga> {
  const wanted = Array.isArray(statuses) ? statuses : [statuses];
  const deadline = Date.now() + timeoutMs;
  let last: Saga | undefined;
  while (Date.now() < deadline) {
    last = (await client.getSaga({ id })).saga!;
    if (wanted.includes(last.status)) return last;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(
    `saga ${id} did not reach ${wanted.map((s) => SagaStatus[s]).join("/")} in ${timeoutMs}ms; last status ${last ? SagaStatus[last.status] : "none"}` +
      (last?.error ? ` (${last.error})` : ""),
  );
}

/** Polls `predicate` every 10 ms until true, or throws `message` after `timeoutMs`. */
export async function waitUntil(predicate: () => boolean | Promise<boolean>, message: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out: ${message}`);
}
