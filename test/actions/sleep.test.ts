import { getEventListeners } from "node:events";
import { afterEach, describe, expect, it, vi } from "vitest";
import { parseDuration, sleepAction } from "../../src/actions/sleep.js";
import { makeContext } from "./context.js";

describe("parseDuration", () => {
  it.each([
    ["150ms", 150],
    ["2s", 2000],
    ["1m", 60_000],
    ["1h", 3_600_000],
    ["1.5s", 1500],
    [".5s", 500],
    [" 3s ", 3000],
    [250, 250],
    [0, 0],
    [1.4, 1],
  ])("parses %j as %i ms", (input, ms) => {
    expect(parseDuration(input, "duration")).toBe(ms);
  });

  it.each(["", "10", "1d", "-1s", "1s2", "s", "1e3ms", -5, Number.NaN, 2 ** 31, null, true, {}, undefined])(
    "rejects %j as non-retryable INVALID_CONFIG",
    (input) => {
      expect(() => parseDuration(input, "duration")).toThrow(
        expect.objectContaining({ kind: "INVALID_CONFIG", retryable: false, message: expect.stringMatching(/config\.duration/) }),
      );
    },
  );
});

describe("sleep action", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("waits the duration and reports it", async () => {
    const started = performance.now();
    await expect(sleepAction.run(makeContext({ duration: "30ms" }))).resolves.toEqual({ slept_ms: 30 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
  });

  it("removes its abort listener when it finishes", async () => {
    const controller = new AbortController();
    await sleepAction.run(makeContext({ duration: 1 }, { signal: controller.signal }));
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("rejects promptly with ABORTED when the signal fires", async () => {
    const controller = new AbortController();
    const started = performance.now();
    const run = sleepAction.run(makeContext({ duration: "10s" }, { signal: controller.signal }));
    setTimeout(() => controller.abort(new Error("attempt timed out")), 10);
    await expect(run).rejects.toMatchObject({ kind: "ABORTED", retryable: true, message: "sleep aborted: attempt timed out" });
    expect(performance.now() - started).toBeLessThan(200);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("clears its timer on abort", async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const run = sleepAction.run(makeContext({ duration: "10s" }, { signal: controller.signal }));
    const settled = expect(run).rejects.toMatchObject({ kind: "ABORTED" });
    expect(vi.getTimerCount()).toBe(1);
    controller.abort();
    await settled;
    expect(vi.getTimerCount()).toBe(0);
  });

  it("rejects at once if the signal already fired, without a timer", async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    controller.abort();
    await expect(sleepAction.run(makeContext({ duration: "1h" }, { signal: controller.signal }))).rejects.toMatchObject({
      kind: "ABORTED",
    });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("rejects a missing or invalid duration as INVALID_CONFIG", async () => {
    await expect(sleepAction.run(makeContext({}))).rejects.toMatchObject({ kind: "INVALID_CONFIG", retryable: false });
    await expect(sleepAction.run(makeContext({ duration: "soon" }))).rejects.toMatchObject({ kind: "INVALID_CONFIG" });
  });
});
