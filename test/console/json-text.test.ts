import { describe, expect, it } from "vitest";
import { parseJsonObject, prettyJson, sameJson } from "../../src/console/model/json-text.js";

describe("parseJsonObject", () => {
  it("accepts an object and hands it over parsed", () => {
    expect(parseJsonObject('{ "id": "ch_1", "n": [1, 2] }')).toEqual({ ok: true, value: { id: "ch_1", n: [1, 2] } });
  });

  it("says where the syntax breaks, by line and column", () => {
    const result = parseJsonObject('{\n  "a": 1\n  "b": 2\n}');
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toMatch(/^is not valid JSON \(line 3, column 3\): /);
  });

  it("refuses what a protobuf Struct cannot hold, and an empty box", () => {
    expect(parseJsonObject("[1]")).toEqual({ ok: false, message: "must be a JSON object ({ … }), not an array" });
    expect(parseJsonObject("42")).toEqual({ ok: false, message: "must be a JSON object ({ … }), not a number" });
    expect(parseJsonObject("null")).toEqual({ ok: false, message: "must be a JSON object ({ … }), not null" });
    expect(parseJsonObject("  ")).toEqual({ ok: false, message: "is empty: write a JSON object, such as {}" });
  });
});

describe("sameJson and prettyJson", () => {
  it("compares regardless of key order, and indents", () => {
    expect(sameJson({ a: 1, b: { c: [1, "x"] } }, { b: { c: [1, "x"] }, a: 1 })).toBe(true);
    expect(sameJson({ a: 1 }, { a: 1, b: null })).toBe(false);
    expect(sameJson([1, 2], { 0: 1, 1: 2 })).toBe(false);
    expect(prettyJson({ a: 1 })).toBe('{\n  "a": 1\n}');
  });
});
