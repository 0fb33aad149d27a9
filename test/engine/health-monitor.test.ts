import { afterEach, describe, expect, it } from "vitest";
import { HealthMonitor, type HealthProbe, type Readiness } from "../../src/engine/health-monitor.js";
import { captureLogs } from "../helpers/log-capture.js";
import { waitUntil } from "../helpers/wait.js";

/** A probe the test switches between answering and failing; counts its checks. */
function fakeProbe() {
  const probe = {
    failure: null as (Error & { code?: string }) | null,
    checks: 0,
    closed: false,
    async check() {
      probe.checks++;
      if (probe.failure) throw probe.failure;
    },
    async close() {
      probe.closed = true;
    },
  } satisfies HealthProbe & Record<string, unknown>;
  return probe;
}

describe("HealthMonitor", () => {
  let monitor: HealthMonitor | undefined;
  afterEach(async () => {
    await monitor?.stop();
    monitor = undefined;
  });

  it("is ready only once migrations ran and the database answered", async () => {
    const probe = fakeProbe();
    monitor = new HealthMonitor({ probe, intervalMs: 10_000, logger: captureLogs().logger });
    expect(monitor.readiness()).toEqual({ ready: false, reason: "database migrations have not run yet" });
    monitor.markMigrated();
    expect(monitor.readiness()).toEqual({ ready: false, reason: "the database has not been probed yet" });
    await monitor.start();
    expect(probe.checks).toBe(1);
    expect(monitor.readiness()).toEqual({ ready: true, reason: null });
  });

  it("follows the database probe, tells listeners about each change, and logs why", async () => {
    const probe = fakeProbe();
    const { logger, lines } = captureLogs();
    monitor = new HealthMonitor({ probe, intervalMs: 5, logger });
    const changes: Readiness[] = [];
    monitor.onChange((r) => changes.push(r));
    monitor.markMigrated();
    await monitor.start();

    probe.failure = Object.assign(new Error("connect ECONNREFUSED 10.0.0.7:5432"), { code: "ECONNREFUSED" });
    await waitUntil(() => !monitor!.readiness().ready, "the failing probe to be noticed");
    // The code, not the message: readiness is public and must not show the database's address.
    expect(monitor.readiness()).toEqual({ ready: false, reason: "the database does not answer (ECONNREFUSED)" });
    const checksWhileDown = probe.checks;
    await waitUntil(() => probe.checks > checksWhileDown + 2, "probing to go on");
    probe.failure = null;
    await waitUntil(() => monitor!.readiness().ready, "the database to be back");

    // Before start() nothing is news; after it, every flip, and only flips, reach the listeners.
    expect(changes.map((c) => c.ready)).toEqual([false, true, false, true]);
    const logged = lines.filter((l) => l.msg === "ready: serving" || l.msg === "not ready").map((l) => [l.msg, l.reason ?? null]);
    expect(logged).toEqual([
      ["ready: serving", null],
      ["not ready", "the database does not answer (ECONNREFUSED)"],
      ["ready: serving", null],
    ]);
  });

  it("stays not ready once draining, whatever the database says, and stop() closes the probe", async () => {
    const probe = fakeProbe();
    monitor = new HealthMonitor({ probe, intervalMs: 5, logger: captureLogs().logger });
    monitor.markMigrated();
    await monitor.start();
    const changes: Readiness[] = [];
    monitor.onChange((r) => changes.push(r));
    monitor.drain();
    expect(monitor.readiness()).toEqual({ ready: false, reason: "draining: sagad is shutting down" });
    const checks = probe.checks;
    await waitUntil(() => probe.checks > checks + 2, "more probes");
    expect(monitor.readiness().ready).toBe(false);
    expect(changes).toHaveLength(1);

    await monitor.stop();
    const after = probe.checks;
    expect(probe.closed).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(probe.checks, "no probe after stop()").toBe(after);
    monitor = undefined;
  });
});
