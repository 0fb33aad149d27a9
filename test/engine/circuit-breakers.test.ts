/**
 * The circuit breaker registry on a fake clock: what opens a breaker and what does not, the
 * half-open probe, which waiting step is woken when, the gradual release after a close, and
 * breakers switched off. Logs go to an in-memory stream so the transitions can be asserted.
 */
import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { Action } from "../../src/actions/action.js";
import { createHttpAction } from "../../src/actions/http.js";
import { CircuitBreakers, circuitKeyFor, FORGET_IDLE_MS, type CallVerdict } from "../../src/engine/circuit-breakers.js";
import { deferred } from "../helpers/engine-harness.js";
import { FakeClock } from "../helpers/fake-clock.js";

const OPEN_MS = 1_000;
const TICK_MS = 100;
const PATIENCE_MS = 500;

function setup(failures = 3) {
  const clock = new FakeClock(1_700_000_000_000);
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n")) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = pino({ level: "info" }, stream);
  const breakers = new CircuitBreakers({
    settings: { failures, openMs: OPEN_MS },
    clock,
    logger,
    releaseTickMs: TICK_MS,
    probePatienceMs: PATIENCE_MS,
  });
  /** Makes one call that ends with `verdict`; throws if the breaker refused it. */
  const callWith = async (verdict: CallVerdict, key = "pay") => {
    const admitted = breakers.call(key, "pay", async () => verdict);
    if ("refused" in admitted) throw new Error(`refused: ${admitted.refused.reason}`);
    return admitted.result;
  };
  const state = (key = "pay") => breakers.list().find((c) => c.key === key);
  /** Lets timers that are already due (0 ms) fire, and pino's stream write. */
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return { clock, lines, breakers, callWith, state, settle };
}

const FAIL: CallVerdict = { verdict: "failure", error: "503 from pay" };
const OK: CallVerdict = { verdict: "success" };
const NEUTRAL: CallVerdict = { verdict: "neutral" };

describe("opening", () => {
  it("opens after N consecutive failures and refuses calls until the probe time", async () => {
    const { clock, lines, breakers, callWith, state, settle } = setup(3);
    await callWith(FAIL);
    await callWith(FAIL);
    expect(state()).toMatchObject({ state: "CLOSED", consecutiveFailures: 2, totalFailures: 2 });
    expect(breakers.check("pay", "pay")).toBeNull();
    const t0 = clock.now();
    await callWith(FAIL);
    expect(state()).toEqual({
      key: "pay",
      action: "pay",
      state: "OPEN",
      consecutiveFailures: 3,
      totalFailures: 3,
      totalSuccesses: 0,
      totalRejected: 0,
      waitingSteps: 0,
      openedAt: t0,
      nextProbeAt: t0 + OPEN_MS,
      lastError: "503 from pay",
    });

    clock.advance(400);
    const refused = breakers.check("pay", "pay");
    expect(refused).toEqual({
      circuit: "pay",
      until: t0 + OPEN_MS,
      reason: `circuit "pay" is open after 3 consecutive failures; next probe at ${new Date(t0 + OPEN_MS).toISOString()}`,
    });
    let called = false;
    const admitted = breakers.call("pay", "pay", async () => {
      called = true;
      return OK;
    });
    expect("refused" in admitted && admitted.refused.until).toBe(t0 + OPEN_MS);
    expect(called).toBe(false);
    expect(state()!.totalRejected).toBe(2);

    await settle();
    const opened = lines.find((l) => l.msg === "circuit breaker opened");
    expect(opened).toMatchObject({
      level: 40,
      circuit: "pay",
      action: "pay",
      failures: 3,
      next_probe: new Date(t0 + OPEN_MS).toISOString(),
      last_error: "503 from pay",
    });
  });

  it("a success, or an answer the target meant (non-retryable), ends the streak", async () => {
    const { callWith, state } = setup(3);
    await callWith(FAIL);
    await callWith(FAIL);
    await callWith(OK);
    expect(state()).toMatchObject({ consecutiveFailures: 0, totalSuccesses: 1 });
    await callWith(FAIL);
    await callWith(FAIL);
    expect(state()!.state).toBe("CLOSED");
    await callWith(FAIL);
    expect(state()!.state).toBe("OPEN");
  });

  it("neutral outcomes (cancel, shutdown, stale) neither count nor end the streak", async () => {
    const { callWith, state } = setup(3);
    await callWith(FAIL);
    await callWith(FAIL);
    for (let i = 0; i < 5; i++) await callWith(NEUTRAL);
    expect(state()).toMatchObject({ state: "CLOSED", consecutiveFailures: 2, totalFailures: 2, totalSuccesses: 0 });
    await callWith(FAIL);
    expect(state()).toMatchObject({ state: "OPEN", consecutiveFailures: 3 });
  });

  it("a call that throws counts as a failure and the error reaches the caller", async () => {
    const { breakers, state } = setup(1);
    const admitted = breakers.call("pay", "pay", () => Promise.reject(new Error("bug in the call")));
    expect("result" in admitted).toBe(true);
    await expect((admitted as { result: Promise<unknown> }).result).rejects.toThrow("bug in the call");
    expect(state()).toMatchObject({ state: "OPEN", totalFailures: 1, lastError: "bug in the call" });
  });

  it("keeps one breaker per key: one failing key does not refuse another", async () => {
    const { breakers, callWith, state } = setup(2);
    await callWith(FAIL, "http a:1");
    await callWith(FAIL, "http a:1");
    expect(state("http a:1")!.state).toBe("OPEN");
    expect(breakers.check("http b:2", "http")).toBeNull();
    await callWith(OK, "http b:2");
    expect(breakers.list().map((c) => [c.key, c.state])).toEqual([
      ["http a:1", "OPEN"],
      ["http b:2", "CLOSED"],
    ]);
  });
});

describe("half-open probe", () => {
  async function opened(failures = 2) {
    const s = setup(failures);
    for (let i = 0; i < failures; i++) await s.callWith(FAIL);
    expect(s.state()!.state).toBe("OPEN");
    return s;
  }

  it("lets exactly one call through at the probe time; others are refused while it runs; success closes", async () => {
    const { clock, lines, breakers, state, settle } = await opened();
    clock.advance(OPEN_MS - 1);
    expect(breakers.check("pay", "pay")).not.toBeNull();
    clock.advance(1);
    expect(breakers.check("pay", "pay")).toBeNull();
    const probe = deferred<CallVerdict>();
    const admitted = breakers.call("pay", "pay", () => probe.promise);
    expect("result" in admitted).toBe(true);
    expect(state()).toMatchObject({ state: "HALF_OPEN", nextProbeAt: null });

    const refused = breakers.check("pay", "pay");
    expect(refused!.until).toBe(clock.now() + OPEN_MS);
    expect(refused!.reason).toContain('circuit "pay" is half-open: a probe call is in flight');

    probe.resolve(OK);
    await (admitted as { result: Promise<CallVerdict> }).result;
    expect(state()).toMatchObject({ state: "CLOSED", consecutiveFailures: 0, totalSuccesses: 1 });
    await settle();
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [40, "circuit breaker opened"],
      [30, "circuit breaker half-open: one probe call goes through"],
      [30, "circuit breaker closed"],
    ]);
  });

  it("a failed probe opens it again for another open time", async () => {
    const { clock, callWith, state } = await opened();
    clock.advance(OPEN_MS + 250);
    await callWith({ verdict: "failure", error: "still down" });
    expect(state()).toMatchObject({
      state: "OPEN",
      openedAt: clock.now(),
      nextProbeAt: clock.now() + OPEN_MS,
      lastError: "still down",
      totalFailures: 3,
    });
  });

  it("a probe that tells nothing (neutral) opens it again instead of letting traffic through", async () => {
    const { clock, callWith, state } = await opened();
    clock.advance(OPEN_MS);
    await callWith(NEUTRAL);
    expect(state()).toMatchObject({ state: "OPEN", nextProbeAt: clock.now() + OPEN_MS, totalFailures: 2 });
  });
});

describe("waiting steps", () => {
  it("wakes one waiter at the probe time, the next if it never calls, and releases the rest 1, 2, 4 per tick after a close", async () => {
    const { clock, breakers, callWith, state, settle } = setup(2);
    await callWith(FAIL);
    await callWith(FAIL);
    const t0 = clock.now();
    const woken: Array<[string, number]> = [];
    const withdraw = new Map<string, () => void>();
    const names = ["w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "w9"];
    for (const name of names) withdraw.set(name, breakers.wait("pay", () => woken.push([name, clock.now() - t0])));
    expect(state()!.waitingSteps).toBe(10);

    clock.advance(OPEN_MS - 1);
    expect(woken).toEqual([]);
    clock.advance(1);
    expect(woken).toEqual([["w0", OPEN_MS]]);
    // w0 never makes its call (its saga moved on): after the patience, w1 gets the turn.
    clock.advance(PATIENCE_MS);
    expect(woken.map(([n]) => n)).toEqual(["w0", "w1"]);
    // w1 calls: it is the probe. Nobody else is woken while it runs.
    const probe = deferred<CallVerdict>();
    const admitted = breakers.call("pay", "pay", () => probe.promise) as { result: Promise<CallVerdict> };
    clock.advance(5 * PATIENCE_MS);
    expect(woken).toHaveLength(2);
    expect(state()).toMatchObject({ state: "HALF_OPEN", waitingSteps: 8 });

    // w2 withdraws (its step was skipped): it is never woken.
    withdraw.get("w2")!();
    probe.resolve(OK);
    await admitted.result;
    const closedAt = clock.now() - t0;
    await settle(); // the first batch goes at once
    expect(woken.slice(2)).toEqual([["w3", closedAt]]);
    clock.advance(TICK_MS);
    expect(woken.slice(3)).toEqual([
      ["w4", closedAt + TICK_MS],
      ["w5", closedAt + TICK_MS],
    ]);
    clock.advance(TICK_MS);
    expect(woken.slice(5)).toEqual([
      ["w6", closedAt + 2 * TICK_MS],
      ["w7", closedAt + 2 * TICK_MS],
      ["w8", closedAt + 2 * TICK_MS],
      ["w9", closedAt + 2 * TICK_MS],
    ]);
    expect(state()!.waitingSteps).toBe(0);
    expect(clock.pending()).toEqual([]); // nothing left to tick
  });

  it("stops releasing when the breaker opens again, and wakes one probe at the next probe time", async () => {
    const { clock, breakers, callWith, settle } = setup(2);
    await callWith(FAIL);
    await callWith(FAIL);
    const woken: string[] = [];
    for (const name of ["a", "b", "c", "d", "e", "f"]) breakers.wait("pay", () => woken.push(name));
    clock.advance(OPEN_MS);
    expect(woken).toEqual(["a"]);
    await callWith(OK); // a's probe succeeds
    await settle();
    expect(woken).toEqual(["a", "b"]);
    // b's call and another fail: open again before the next tick.
    await callWith(FAIL);
    await callWith(FAIL);
    const reopenedAt = clock.now();
    clock.advance(TICK_MS);
    expect(woken).toEqual(["a", "b"]);
    clock.advance(reopenedAt + OPEN_MS - clock.now() - 1);
    expect(woken).toEqual(["a", "b"]);
    clock.advance(1);
    expect(woken).toEqual(["a", "b", "c"]);
  });

  it("a step that starts waiting while the breaker is closed is woken at once", async () => {
    const { breakers, callWith, settle } = setup(2);
    await callWith(OK);
    const woken: string[] = [];
    breakers.wait("pay", () => woken.push("late"));
    await settle();
    expect(woken).toEqual(["late"]);
  });

  it("close() stops the timers and forgets the waiters", async () => {
    const { clock, breakers, callWith } = setup(1);
    await callWith(FAIL);
    const woken: string[] = [];
    breakers.wait("pay", () => woken.push("x"));
    expect(clock.pending()).toHaveLength(1);
    breakers.close();
    expect(clock.pending()).toEqual([]);
    clock.advance(10 * OPEN_MS);
    breakers.wait("pay", () => woken.push("after close"));
    await new Promise((resolve) => setImmediate(resolve));
    expect(woken).toEqual([]);
  });
});

describe("forgetting idle breakers", () => {
  it("forgets a healthy breaker unused for long when a new one is made, and keeps any that is not healthy and idle", async () => {
    const { clock, breakers, callWith, state } = setup(3);
    await callWith(OK, "healthy");
    await callWith(FAIL, "streak"); // closed, but one failure into a streak
    for (let i = 0; i < 3; i++) await callWith(FAIL, "open");
    const slow = deferred<CallVerdict>();
    const inFlight = breakers.call("in-flight", "pay", () => slow.promise);
    expect("result" in inFlight).toBe(true);

    clock.advance(FORGET_IDLE_MS - 1);
    breakers.check("fresh-1", "pay");
    expect(breakers.list().map((c) => c.key)).toEqual(["fresh-1", "healthy", "in-flight", "open", "streak"]);

    clock.advance(60_000); // sweeps happen at most once a minute
    breakers.check("fresh-2", "pay");
    // "healthy" and the new "fresh-1" were idle: only the first is past the limit.
    expect(breakers.list().map((c) => c.key)).toEqual(["fresh-1", "fresh-2", "in-flight", "open", "streak"]);

    // Once settled (and idle as long again), the slow call's breaker goes too; "open" stays open.
    slow.resolve(OK);
    if ("result" in inFlight) await inFlight.result;
    clock.advance(FORGET_IDLE_MS);
    breakers.check("fresh-3", "pay");
    expect(breakers.list().map((c) => c.key)).toEqual(["fresh-3", "open", "streak"]);
    expect(state("open")?.state).toBe("OPEN");

    // A forgotten key starts afresh, closed.
    await callWith(OK, "healthy");
    expect(state("healthy")).toMatchObject({ state: "CLOSED", totalSuccesses: 1 });
    breakers.close();
  });
});

describe("breakers switched off (0 failures)", () => {
  it("admits every call, keeps no breakers, and wakes a waiter at once", async () => {
    const clock = new FakeClock();
    const breakers = new CircuitBreakers({ settings: { failures: 0, openMs: OPEN_MS }, clock, logger: pino({ level: "silent" }) });
    expect(breakers.enabled).toBe(false);
    for (let i = 0; i < 20; i++) {
      expect(breakers.check("pay", "pay")).toBeNull();
      const admitted = breakers.call("pay", "pay", async () => FAIL);
      expect(await (admitted as { result: Promise<CallVerdict> }).result).toEqual(FAIL);
    }
    expect(breakers.list()).toEqual([]);
    const woken: string[] = [];
    breakers.wait("pay", () => woken.push("w"));
    await Promise.resolve();
    expect(woken).toEqual(["w"]);
  });

  it("rejects nonsense settings", () => {
    const logger = pino({ level: "silent" });
    const clock = new FakeClock();
    expect(() => new CircuitBreakers({ settings: { failures: -1, openMs: 1 }, clock, logger })).toThrow(/non-negative integer/);
    expect(() => new CircuitBreakers({ settings: { failures: 2, openMs: 0 }, clock, logger })).toThrow(/must be positive/);
  });
});

describe("circuit keys", () => {
  const plain: Action = { name: "pay", run: async () => ({}) };
  const http = createHttpAction();

  it("is the action name unless the action says otherwise", () => {
    expect(circuitKeyFor(plain, { url: "http://x.example" })).toBe("pay");
  });

  it("is per host and port for http, and the action-wide key for a config without a usable url", () => {
    expect(circuitKeyFor(http, { url: "https://pay.example/charge?x=1" })).toBe("http pay.example");
    expect(circuitKeyFor(http, { url: "http://127.0.0.1:8081/a" })).toBe("http 127.0.0.1:8081");
    expect(circuitKeyFor(http, { url: "http://127.0.0.1:8082/a" })).toBe("http 127.0.0.1:8082");
    expect(circuitKeyFor(http, { url: "not a url" })).toBe("http");
    expect(circuitKeyFor(http, { url: 42 })).toBe("http");
    expect(circuitKeyFor(http, {})).toBe("http");
  });

  it("falls back to the action name when the key function throws or answers nothing", () => {
    expect(circuitKeyFor({ ...plain, circuitKey: () => { throw new Error("bad"); } }, {})).toBe("pay");
    expect(circuitKeyFor({ ...plain, circuitKey: () => "" }, {})).toBe("pay");
  });
});
