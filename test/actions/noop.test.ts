import { describe, expect, it } from "vitest";
import { noopAction } from "../../src/actions/noop.js";
import { makeContext } from "./context.js";

describe("noop action", () => {
  it("is named noop and outputs its rendered config", async () => {
    expect(noopAction.name).toBe("noop");
    const config = { order_id: "o-1", amount: 12.5, tags: ["a"] };
    await expect(noopAction.run(makeContext(config))).resolves.toEqual(config);
  });

  it("outputs {} for an empty config", async () => {
    await expect(noopAction.run(makeContext({}))).resolves.toEqual({});
  });
});
