import { describe, expect, it } from "vitest";
import { ActionError, normalizeOutput, toActionFailure } from "../../src/actions/action.js";

describe("toActionFailure", () => {
  it("keeps an ActionError's kind and retryable", () => {
    const err = new ActionError("bad request", { kind: "HTTP_4XX", retryable: false });
    expect(toActionFailure(err)).toEqual({ message: "bad request", kind: "HTTP_4XX", retryable: false });
  });

  it("keeps an ActionError even when the signal has fired", () => {
    const controller = new AbortController();
    controller.abort();
    const err = new ActionError("nope", { kind: "INVALID_CONFIG", retryable: false });
    expect(toActionFailure(err, controller.signal).kind).toBe("INVALID_CONFIG");
  });

  it("maps an AbortError to retryable ABORTED", () => {
    const err = new DOMException("This operation was aborted", "AbortError");
    expect(toActionFailure(err)).toMatchObject({ kind: "ABORTED", retryable: true });
  });

  it("maps any error thrown after the signal fired to ABORTED", () => {
    const controller = new AbortController();
    controller.abort(new Error("cancelled"));
    expect(toActionFailure(new TypeError("socket hang up"), controller.signal).kind).toBe("ABORTED");
  });

  it("maps other errors to retryable ERROR", () => {
    expect(toActionFailure(new Error("boom"))).toEqual({ message: "boom", kind: "ERROR", retryable: true });
  });

  it("stringifies thrown non-errors", () => {
    expect(toActionFailure("plain").message).toBe("plain");
    expect(toActionFailure({ code: 7 }).message).toBe('{"code":7}');
    expect(toActionFailure(undefined).message).toBe("undefined");
  });
});

describe("normalizeOutput", () => {
  it("passes objects through as a copy", () => {
    const value = { a: 1, nested: { b: [true, null, "x"] } };
    const out = normalizeOutput(value);
    expect(out).toEqual(value);
    value.nested.b.push("later");
    expect(out).toEqual({ a: 1, nested: { b: [true, null, "x"] } });
  });

  it("turns undefined into {} and wraps other JSON values", () => {
    expect(normalizeOutput(undefined)).toEqual({});
    expect(normalizeOutput(42)).toEqual({ value: 42 });
    expect(normalizeOutput("ok")).toEqual({ value: "ok" });
    expect(normalizeOutput(null)).toEqual({ value: null });
    expect(normalizeOutput([1, 2])).toEqual({ value: [1, 2] });
  });

  it("drops undefined object properties like JSON does", () => {
    expect(normalizeOutput({ a: 1, b: undefined })).toEqual({ a: 1 });
  });

  it("allows the same object twice when it is not a cycle", () => {
    const shared = { x: 1 };
    expect(normalizeOutput({ a: shared, b: shared })).toEqual({ a: { x: 1 }, b: { x: 1 } });
  });

  it.each([
    ["a function", { f: () => 1 }],
    ["a bigint", { n: 1n }],
    ["NaN", { n: Number.NaN }],
    ["a class instance", { d: new Date(0) }],
    ["undefined in an array", { a: [undefined] }],
  ])("rejects %s as non-retryable INVALID_OUTPUT", (_what, value) => {
    expect(() => normalizeOutput(value)).toThrow(
      expect.objectContaining({ kind: "INVALID_OUTPUT", retryable: false }),
    );
  });

  it("rejects cycles and names the path", () => {
    const value: Record<string, unknown> = { a: { b: {} } };
    (value["a"] as { b: Record<string, unknown> }).b["back"] = value;
    expect(() => normalizeOutput(value)).toThrow(/output\.a\.b\.back is a circular reference/);
  });
});
