import { describe, expect, it } from "vitest";
import type { Action } from "../../src/actions/action.js";
import { ActionRegistry, createDefaultRegistry } from "../../src/actions/registry.js";

const action = (name: string): Action => ({ name, run: () => Promise.resolve({}) });

describe("ActionRegistry", () => {
  it("returns registered actions by name", () => {
    const a = action("payments.charge");
    const registry = new ActionRegistry().register(a);
    expect(registry.get("payments.charge")).toBe(a);
    expect(registry.has("payments.charge")).toBe(true);
    expect(registry.has("payments.refund")).toBe(false);
    expect(registry.get("payments.refund")).toBeUndefined();
  });

  it("rejects duplicate names", () => {
    const registry = new ActionRegistry().register(action("x"));
    expect(() => registry.register(action("x"))).toThrow(/already registered/);
  });

  it.each(["", "Upper", "1abc", "has space", "a/b"])("rejects invalid name %j", (name) => {
    expect(() => new ActionRegistry().register(action(name))).toThrow(/invalid action name/);
  });

  it("lists names sorted", () => {
    const registry = new ActionRegistry().register(action("b")).register(action("a_1")).register(action("c-2"));
    expect(registry.names()).toEqual(["a_1", "b", "c-2"]);
  });
});

describe("createDefaultRegistry", () => {
  it("has the built-ins and the extras", () => {
    const registry = createDefaultRegistry([action("custom")]);
    expect(registry.names()).toEqual(["custom", "http", "noop", "sleep"]);
  });

  it("refuses an extra that shadows a built-in", () => {
    expect(() => createDefaultRegistry([action("http")])).toThrow(/already registered/);
  });
});
