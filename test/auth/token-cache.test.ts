import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { TokenCache } from "../../src/auth/token-cache.js";
import { generateToken, type NewToken } from "../../src/auth/token-format.js";
import type { Scope } from "../../src/domain/scopes.js";
import type { ActiveToken } from "../../src/store/token-store.js";
import { waitUntil } from "../helpers/wait.js";

function active(t: NewToken, name: string, scopes: Scope[]): ActiveToken {
  return { keyId: t.keyId, name, scopes, secretHash: t.secretHash };
}

/** A cache over a programmable loader, with its warnings captured. */
function setup(options: { reloadIntervalMs?: number } = {}) {
  let rows: ActiveToken[] = [];
  let failure: Error | null = null;
  let loads = 0;
  let gate: Promise<void> | null = null;
  const warnings: string[] = [];
  const logger = pino({ level: "warn" }, { write: (line: string) => void warnings.push(line) });
  const cache = new TokenCache({
    logger,
    reloadIntervalMs: options.reloadIntervalMs ?? 60_000,
    load: async () => {
      loads++;
      const snapshot = rows;
      await gate;
      if (failure) throw failure;
      return snapshot;
    },
  });
  return {
    cache,
    warnings,
    loads: () => loads,
    set: (next: ActiveToken[]) => (rows = next),
    fail: (err: Error | null) => (failure = err),
    hold: () => {
      let release!: () => void;
      gate = new Promise((resolve) => (release = resolve));
      return () => {
        gate = null;
        release();
      };
    },
  };
}

describe("TokenCache", () => {
  const caches: TokenCache[] = [];
  afterEach(() => caches.splice(0).forEach((c) => c.stop()));
  const started = async (s: ReturnType<typeof setup>) => {
    caches.push(s.cache);
    await s.cache.start();
    return s.cache;
  };

  it("authenticates an active token as its name and scopes, and nothing else", async () => {
    const deployer = generateToken();
    const other = generateToken();
    const s = setup();
    s.set([active(deployer, "ci-deployer", ["sagas:execute", "sagas:read"]), active(other, "other", ["admin"])]);
    const cache = await started(s);

    const principal = cache.authenticate(deployer.token);
    expect(principal?.tokenName).toBe("ci-deployer");
    expect([...principal!.scopes].sort()).toEqual(["sagas:execute", "sagas:read"]);
    // Right key id, wrong secret (another token's): refused, not taken for the other token.
    const otherSecret = other.token.slice(-43);
    expect(cache.authenticate(`sagad_${deployer.keyId}_${otherSecret}`)).toBeNull();
    expect(cache.authenticate(generateToken().token)).toBeNull();
    expect(cache.authenticate("garbage")).toBeNull();
    expect(cache.authenticate("")).toBeNull();
  });

  it("forgets a revoked token on reload", async () => {
    const t = generateToken();
    const s = setup();
    s.set([active(t, "soon-revoked", ["admin"])]);
    const cache = await started(s);
    expect(cache.authenticate(t.token)).not.toBeNull();

    s.set([]);
    await cache.reload();

    expect(cache.authenticate(t.token)).toBeNull();
    expect(cache.size).toBe(0);
  });

  it("keeps the last known tokens, with a warning, while the database cannot be read", async () => {
    const t = generateToken();
    const s = setup();
    s.set([active(t, "kept", ["sagas:read"])]);
    const cache = await started(s);

    s.fail(new Error("connect ECONNREFUSED 127.0.0.1:5432"));
    await cache.reload();

    expect(cache.authenticate(t.token)?.tokenName).toBe("kept");
    expect(s.warnings.join("")).toContain("could not reload API tokens; keeping the last known set");
    // Back: the next reload applies what is there now.
    s.fail(null);
    s.set([]);
    await cache.reload();
    expect(cache.authenticate(t.token)).toBeNull();
  });

  it("tells listeners after every applied reload, not after a failed one, and not once unsubscribed", async () => {
    const s = setup();
    const cache = await started(s);
    let told = 0;
    const unsubscribe = cache.onChange(() => told++);
    await cache.reload();
    expect(told).toBe(1);
    s.fail(new Error("connect ECONNREFUSED 127.0.0.1:5432"));
    await cache.reload();
    expect(told).toBe(1);
    s.fail(null);
    unsubscribe();
    await cache.reload();
    expect(told).toBe(1);
  });

  it("fails to start when the first load fails, rather than serving with no tokens", async () => {
    const s = setup();
    s.fail(new Error("no database"));
    caches.push(s.cache);
    await expect(s.cache.start()).rejects.toThrow("no database");
  });

  it("runs a reload requested during a reload again afterwards, so a revocation is never missed", async () => {
    const t = generateToken();
    const s = setup();
    s.set([active(t, "racing", ["admin"])]);
    const cache = await started(s);
    const release = s.hold();
    const first = cache.reload(); // reads the set with the token, then waits
    await waitUntil(() => s.loads() === 2, "first reload started");
    s.set([]); // revoked while the first reload is in flight
    const second = cache.reload();
    const third = cache.reload();
    release();
    await Promise.all([first, second, third]);

    expect(cache.authenticate(t.token)).toBeNull();
    // The two requests made during the first reload shared one more read.
    expect(s.loads()).toBe(3);
  });

  it("reloads on its backstop interval without being told", async () => {
    const t = generateToken();
    const s = setup({ reloadIntervalMs: 20 });
    const cache = await started(s);
    expect(cache.authenticate(t.token)).toBeNull();

    s.set([active(t, "late", ["sagas:read"])]);

    await waitUntil(() => cache.authenticate(t.token) !== null, "the backstop reload picked the token up", 2_000);
  });

  it("stops reloading once stopped", async () => {
    const s = setup({ reloadIntervalMs: 10 });
    const cache = await started(s);
    cache.stop();
    const loads = s.loads();
    await cache.reload();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(s.loads()).toBe(loads);
  });
});
