import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DomainError } from "../../src/domain/errors.js";
import { DefinitionStore, type NewDefinition } from "../../src/store/definition-store.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";

const NOW = Date.parse("2030-01-01T00:00:00Z");

/** A definition whose spec (and hash) is told apart by `variant`. */
function def(name: string, variant: string, labels: Record<string, string> = {}): NewDefinition {
  return { name, spec: { steps: [{ name: variant, action: "noop" }] }, specHash: `hash-${variant}`, labels, stepCount: 1, createdBy: "ci" };
}

async function rejection(promise: Promise<unknown>): Promise<DomainError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(DomainError);
  return err as DomainError;
}

describe("definition store", () => {
  let db: TestDatabase;
  let store: DefinitionStore;
  beforeEach(async () => {
    db = await createTestDatabase();
    store = new DefinitionStore(db.pool);
  });
  afterEach(async () => {
    await db.drop();
  });

  it("numbers versions 1, 2, 3 per name and keeps each as registered", async () => {
    const a1 = await store.register(def("a", "x"), 0, NOW);
    const b1 = await store.register(def("b", "x"), 0, NOW);
    const a2 = await store.register(def("a", "y"), 0, NOW + 1);
    const a3 = await store.register(def("a", "z", { team: "pay" }), 0, NOW + 2);
    expect([a1, b1, a2, a3].map((r) => [r.record.name, r.record.version, r.created])).toEqual([
      ["a", 1, true], ["b", 1, true], ["a", 2, true], ["a", 3, true],
    ]);
    expect(a3.record).toMatchObject({ state: "ACTIVE", labels: { team: "pay" }, stepCount: 1, createdBy: "ci", createdAt: NOW + 2, updatedAt: NOW + 2 });
    expect((await store.get("a", 2))!.spec).toEqual(def("a", "y").spec);
    expect((await store.get("a", 0))!.version).toBe(3);
    expect(await store.get("a", 4)).toBeNull();
    expect(await store.get("nope", 0)).toBeNull();
    expect(await store.head("a", 0)).toEqual({ version: 3, state: "ACTIVE" });
    expect(await store.head("a", 9)).toBeNull();
  });

  it("returns the latest version unchanged when its spec hash is the same, but a new one for an older spec", async () => {
    await store.register(def("a", "x"), 0, NOW);
    await store.register(def("a", "y"), 0, NOW);
    const again = await store.register(def("a", "y"), 0, NOW + 5);
    expect(again).toMatchObject({ created: false, record: { version: 2, createdAt: NOW } });
    // Identical to the latest wins over a stale expectation: CI re-registering on every deploy.
    expect(await store.register(def("a", "y"), 1, NOW)).toMatchObject({ created: false, record: { version: 2 } });
    // Going back to v1's spec is a change against the latest: a new version, never a reused one.
    expect(await store.register(def("a", "x"), 0, NOW)).toMatchObject({ created: true, record: { version: 3 } });
  });

  it("checks expected_latest: a version, -1 for none, 0 for no check", async () => {
    expect((await store.register(def("a", "x"), -1, NOW)).record.version).toBe(1);
    const none = await rejection(store.register(def("a", "y"), -1, NOW));
    expect(none.reason).toBe("FAILED_PRECONDITION");
    expect(none.message).toBe('definition "a": expected no version yet, but its latest version is 1');
    const stale = await rejection(store.register(def("a", "y"), 3, NOW));
    expect(stale.message).toBe('definition "a": expected latest version 3, but its latest version is 1');
    const missing = await rejection(store.register(def("fresh", "y"), 2, NOW));
    expect(missing.message).toBe('definition "fresh": expected latest version 2, but it has none');
    expect(await store.get("fresh", 0)).toBeNull();
    expect((await store.register(def("a", "y"), 1, NOW)).record.version).toBe(2);
  });

  it("gives concurrent registrations of different specs distinct consecutive versions", async () => {
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => store.register(def("race", `v${i}`), 0, NOW)));
    expect(results.map((r) => r.record.version).sort((x, y) => x - y)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(results.every((r) => r.created)).toBe(true);
  });

  it("sets a version's state, touching updated_at only on a change", async () => {
    await store.register(def("a", "x"), 0, NOW);
    await store.register(def("a", "y"), 0, NOW);
    expect(await store.setState("a", 1, "DEPRECATED", NOW + 10)).toMatchObject({ version: 1, state: "DEPRECATED", updatedAt: NOW + 10 });
    expect(await store.setState("a", 1, "DEPRECATED", NOW + 20)).toMatchObject({ updatedAt: NOW + 10 });
    expect(await store.head("a", 1)).toEqual({ version: 1, state: "DEPRECATED" });
    expect(await store.head("a", 0)).toEqual({ version: 2, state: "ACTIVE" });
    expect(await store.setState("a", 7, "DISABLED", NOW)).toBeNull();
  });

  it("lists the latest version of each name by prefix and the latest's labels, in pages", async () => {
    for (const name of ["pay-a", "pay-b", "pay-c", "ship-a"]) await store.register(def(name, "1", { team: "old" }), 0, NOW);
    await store.register(def("pay-b", "2", { team: "new" }), 0, NOW);

    const first = await store.listLatest({ prefix: "pay-", labels: {} }, 2, "");
    expect(first.definitions.map((d) => [d.name, d.version])).toEqual([["pay-a", 1], ["pay-b", 2]]);
    const second = await store.listLatest({ prefix: "pay-", labels: {} }, 2, first.nextPageToken);
    expect(second.definitions.map((d) => d.name)).toEqual(["pay-c"]);
    expect(second.nextPageToken).toBe("");
    // Labels filter the latest version: pay-b's v1 had team=old, but its latest does not.
    const old = await store.listLatest({ prefix: "", labels: { team: "old" } }, 10, "");
    expect(old.definitions.map((d) => d.name)).toEqual(["pay-a", "pay-c", "ship-a"]);

    const reused = await rejection(store.listLatest({ prefix: "ship-", labels: {} }, 2, first.nextPageToken));
    expect(reused.violations).toEqual([{ field: "page_token", description: "the token was issued for other filters" }]);
    const junk = await rejection(store.listLatest({ prefix: "", labels: {} }, 2, "not-a-token"));
    expect(junk.violations[0]!.field).toBe("page_token");
  });

  it("lists one name's versions newest first, in pages", async () => {
    for (const v of ["1", "2", "3", "4", "5"]) await store.register(def("a", v), 0, NOW);
    await store.register(def("b", "1"), 0, NOW);
    const seen: number[] = [];
    let token = "";
    let pages = 0;
    do {
      const page = await store.listVersions("a", 2, token);
      seen.push(...page.definitions.map((d) => d.version));
      token = page.nextPageToken;
      pages++;
    } while (token !== "");
    expect(seen).toEqual([5, 4, 3, 2, 1]);
    expect(pages).toBe(3);
    expect((await store.listVersions("missing", 5, "")).definitions).toEqual([]);
    const other = await rejection(store.listVersions("b", 2, (await store.listVersions("a", 2, "")).nextPageToken));
    expect(other.violations[0]!.description).toBe("the token was issued for other filters");
  });
});
