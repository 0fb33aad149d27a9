import { describe, expect, it } from "vitest";
import { DefinitionCatalog } from "../../src/api/definition-catalog.js";
import type { DefinitionRecord, DefinitionState } from "../../src/domain/definition-record.js";
import { DomainError } from "../../src/domain/errors.js";
import { DEFAULT_VALIDATION_LIMITS } from "../../src/domain/validate-saga.js";
import type { DefinitionStore } from "../../src/store/definition-store.js";

/** A store of version 1 of any name, in `states[name]` (default ACTIVE), counting its reads. */
function fakeStore(states: Record<string, DefinitionState> = {}) {
  const reads = { head: [] as string[], get: [] as string[] };
  const store = {
    async head(name: string, version: number) {
      reads.head.push(`${name}@${version}`);
      return version > 1 ? null : { version: 1, state: states[name] ?? "ACTIVE" };
    },
    async get(name: string, version: number): Promise<DefinitionRecord | null> {
      reads.get.push(`${name}@${version}`);
      const spec = { name, steps: [{ name: "a", action: "noop" }] };
      return { name, version, spec, specHash: "h", state: states[name] ?? "ACTIVE", labels: {}, stepCount: 1, createdAt: 0, createdBy: "", updatedAt: 0 };
    },
  };
  const catalog = new DefinitionCatalog(store as unknown as DefinitionStore, DEFAULT_VALIDATION_LIMITS, (action) => action === "noop");
  return { catalog, reads };
}

describe("definition catalog", () => {
  it("reads a head once per (name, version) asked for, again when fresh, and the spec once per version", async () => {
    const { catalog, reads } = fakeStore();
    for (let i = 0; i < 3; i++) expect((await catalog.resolve("pay", 0)).version).toBe(1);
    await catalog.resolve("pay", 1);
    await catalog.resolve("pay", 0, true);
    expect(reads.head).toEqual(["pay@0", "pay@1", "pay@0"]);
    expect(reads.get).toEqual(["pay@1"]);
  });

  it("never caches a DISABLED head, nor a missing version", async () => {
    const states: Record<string, DefinitionState> = { off: "DISABLED" };
    const { catalog, reads } = fakeStore(states);
    for (let i = 0; i < 2; i++) {
      const err = await catalog.resolve("off", 1).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DomainError);
      expect((err as DomainError).reason).toBe("FAILED_PRECONDITION");
    }
    states.off = "ACTIVE";
    expect((await catalog.resolve("off", 1)).state).toBe("ACTIVE");
    for (let i = 0; i < 2; i++) expect(((await catalog.resolve("off", 2).catch((e: unknown) => e)) as DomainError).reason).toBe("NOT_FOUND");
    expect(reads.head).toEqual(["off@1", "off@1", "off@1", "off@2", "off@2"]);
  });

  it("evicts the least recently used of 1,000 heads", async () => {
    const { catalog, reads } = fakeStore();
    for (let i = 0; i < 1000; i++) await catalog.resolve(`n${i}`, 1);
    await catalog.resolve("n0", 1); // used again: now the most recent
    await catalog.resolve("n1000", 1); // evicts n1, the least recently used
    reads.head.length = 0;
    await catalog.resolve("n0", 1);
    await catalog.resolve("n999", 1);
    await catalog.resolve("n1", 1);
    expect(reads.head).toEqual(["n1@1"]);
  });

  it("forgets every head of one name, and only of that name", async () => {
    const { catalog, reads } = fakeStore();
    for (const name of ["pay", "pay-2"]) for (const version of [0, 1]) await catalog.resolve(name, version);
    catalog.forget("pay");
    reads.head.length = 0;
    for (const name of ["pay", "pay-2"]) for (const version of [0, 1]) await catalog.resolve(name, version);
    expect(reads.head).toEqual(["pay@0", "pay@1"]);
  });
});
