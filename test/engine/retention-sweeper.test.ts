import { describe, expect, it } from "vitest";
import { RetentionSweeper } from "../../src/engine/retention-sweeper.js";
import type { RetentionBatch } from "../../src/store/retention.js";
import { captureLogs } from "../helpers/log-capture.js";
import { waitUntil } from "../helpers/wait.js";

const DAY = 86_400_000;
const NOW = Date.parse("2030-06-01T00:00:00Z");

/** A sweeper over scripted batches; records each call's cutoff and limit and each count reported. */
function sweeper(script: (RetentionBatch | Error)[], extra: { pauseMs?: number } = {}) {
  const calls: [number, number][] = [];
  const reported: number[] = [];
  const { logger, lines } = captureLogs("debug");
  const s = new RetentionSweeper({
    retentionDays: 30,
    now: () => NOW,
    logger,
    batchSize: 10,
    pauseMs: extra.pauseMs ?? 1,
    onDeleted: (n) => reported.push(n),
    async deleteBatch(cutoff, limit) {
      calls.push([cutoff, limit]);
      const next = script.shift() ?? { lockTaken: true, deleted: 0 };
      if (next instanceof Error) throw next;
      return next;
    },
  });
  return { s, calls, reported, lines };
}

describe("RetentionSweeper", () => {
  it("loops full batches until a short one, reports each and logs the total once", async () => {
    const { s, calls, reported, lines } = sweeper([
      { lockTaken: true, deleted: 10 },
      { lockTaken: true, deleted: 10 },
      { lockTaken: true, deleted: 3 },
    ]);

    expect(await s.sweep()).toBe(23);

    expect(calls).toEqual([[NOW - 30 * DAY, 10], [NOW - 30 * DAY, 10], [NOW - 30 * DAY, 10]]);
    expect(reported).toEqual([10, 10, 3]);
    expect(lines.filter((l) => l.msg === "retention deleted sagas")).toMatchObject([{ deleted: 23, batches: 3, cutoff: "2030-05-02T00:00:00.000Z" }]);
  });

  it("leaves the sweep to the replica holding the lock", async () => {
    const { s, calls, reported } = sweeper([{ lockTaken: false, deleted: 0 }, { lockTaken: true, deleted: 5 }]);

    expect(await s.sweep()).toBe(0);
    expect(calls).toHaveLength(1);
    expect(reported).toEqual([]);
  });

  it("logs a failed batch instead of throwing, keeping what it deleted before", async () => {
    const { s, reported, lines } = sweeper([{ lockTaken: true, deleted: 10 }, Object.assign(new Error("boom"), { code: "XX000" })]);

    expect(await s.sweep()).toBe(10);
    expect(reported).toEqual([10]);
    expect(lines.find((l) => l.msg.startsWith("retention sweep failed"))).toMatchObject({ level: 50, deleted: 10 });
  });

  it("sweeps at start and stops in the pause between batches without another batch", async () => {
    const full = { lockTaken: true, deleted: 10 };
    const { s, calls } = sweeper([full, full, full], { pauseMs: 60_000 });

    s.start();
    await waitUntil(() => calls.length === 1, "the first batch at start");
    await s.stop();

    expect(calls).toHaveLength(1);
  });

  it("refuses a retention that is not a positive number of days", () => {
    const base = { deleteBatch: async () => ({ lockTaken: true, deleted: 0 }), now: () => NOW, logger: captureLogs().logger, onDeleted() {} };
    expect(() => new RetentionSweeper({ ...base, retentionDays: 0 })).toThrow("retention days must be a positive integer, got 0");
  });
});
