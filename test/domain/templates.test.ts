import { describe, expect, it } from "vitest";
import { DomainError } from "../../src/domain/errors.js";
import { findTemplateRefs, renderTemplates, type TemplateScope } from "../../src/domain/templates.js";

describe("findTemplateRefs", () => {
  it("finds every form with the field path of its string", () => {
    const refs = findTemplateRefs({
      url: "https://{{vars.host}}/orders/{{ steps.reserve.output.id }}",
      items: [{}, {}, {}, { id: "{{steps.pay.output.lines.0.sku}}" }],
      meta: { "x-id": "{{saga.id}}", name: "{{saga.name}}", whole: "{{steps.pay.output}}" },
    });
    expect(refs).toEqual([
      { kind: "vars", name: "host", text: "{{vars.host}}", jsonPath: "config.url" },
      { kind: "steps", step: "reserve", path: ["id"], text: "{{ steps.reserve.output.id }}", jsonPath: "config.url" },
      { kind: "steps", step: "pay", path: ["lines", "0", "sku"], text: "{{steps.pay.output.lines.0.sku}}", jsonPath: "config.items[3].id" },
      { kind: "saga", field: "id", text: "{{saga.id}}", jsonPath: 'config.meta["x-id"]' },
      { kind: "saga", field: "name", text: "{{saga.name}}", jsonPath: "config.meta.name" },
      { kind: "steps", step: "pay", path: [], text: "{{steps.pay.output}}", jsonPath: "config.meta.whole" },
    ]);
  });

  it("reports text that does not parse as invalid", () => {
    const bad = ["{{}}", "{{vars}}", "{{vars.}}", "{{steps.a}}", "{{steps.a.input}}", "{{steps.a.output.}}", "{{saga.status}}", "{{env.HOME}}", "{{vars.a b}}"];
    const refs = findTemplateRefs({ list: bad });
    expect(refs.map((r) => r.kind)).toEqual(bad.map(() => "invalid"));
    expect(refs[8]).toEqual({ kind: "invalid", text: "{{vars.a b}}", jsonPath: "config.list[8]" });
  });

  it("ignores object keys, non-strings and unclosed braces, and honours a custom root", () => {
    expect(findTemplateRefs({ "{{vars.k}}": 1, n: 5, b: true, z: null, s: "{{vars.x" })).toEqual([]);
    expect(findTemplateRefs({ a: "{{vars.x}}" }, "steps[10].config")[0]?.jsonPath).toBe("steps[10].config.a");
  });
});

describe("renderTemplates", () => {
  const scope: TemplateScope = {
    vars: { region: "eu-west", count: "3" },
    outputs: { reserve: { id: "r-1", amount: 12.5, lines: [{ sku: "A" }, { sku: "B" }], nested: { ok: true } } },
    saga: { id: "s-123", name: "checkout" },
  };

  it("replaces an exact template with the JSON value as is", () => {
    const out = renderTemplates(
      { amount: "{{steps.reserve.output.amount}}", lines: "{{ steps.reserve.output.lines }}", all: "{{steps.reserve.output}}", v: "{{vars.count}}" },
      scope,
    );
    expect(out).toEqual({ amount: 12.5, lines: [{ sku: "A" }, { sku: "B" }], all: scope.outputs["reserve"], v: "3" });
  });

  it("interpolates embedded templates: strings raw, other values as JSON", () => {
    const out = renderTemplates(
      { url: "https://{{vars.region}}.example/{{saga.id}}/{{steps.reserve.output.lines.1.sku}}", body: "n={{steps.reserve.output.nested}} a={{steps.reserve.output.amount}}" },
      scope,
    );
    expect(out).toEqual({ url: "https://eu-west.example/s-123/B", body: 'n={"ok":true} a=12.5' });
  });

  it("renders deep inside arrays and objects, leaves keys and other values alone, and copies", () => {
    const config = { "{{vars.region}}": [1, null, { deep: ["{{saga.name}}"] }], flag: false };
    const out = renderTemplates(config, scope);
    expect(out).toEqual({ "{{vars.region}}": [1, null, { deep: ["checkout"] }], flag: false });
    expect(config["{{vars.region}}"][2]).toEqual({ deep: ["{{saga.name}}"] });
  });

  it("does not share output objects with the result", () => {
    const out = renderTemplates({ n: "{{steps.reserve.output.nested}}" }, scope);
    (out["n"] as { ok: boolean }).ok = false;
    expect(scope.outputs["reserve"]?.["nested"]).toEqual({ ok: true });
  });

  it("treats two templates in one string as interpolation, not one value", () => {
    expect(renderTemplates({ x: "{{vars.count}}{{vars.count}}" }, scope)).toEqual({ x: "33" });
  });

  it("does not re-render templates that appear inside referenced values", () => {
    const s = { ...scope, vars: { t: "{{vars.region}}" } };
    expect(renderTemplates({ x: "{{vars.t}}", y: "<{{vars.t}}>" }, s)).toEqual({ x: "{{vars.region}}", y: "<{{vars.region}}>" });
  });

  const failures: [string, string, RegExp][] = [
    ["unknown var", "{{vars.nope}}", /template \{\{vars\.nope\}\} at config\.x\.y\[0\]: unknown var "nope"/],
    ["step without output", "{{steps.ship.output.id}}", /at config\.x\.y\[0\]: step "ship" has no output/],
    ["missing key", "{{steps.reserve.output.lines.0.price}}", /the output of step "reserve" has no value at "lines\.0\.price"/],
    ["index out of range", "{{steps.reserve.output.lines.5}}", /no value at "lines\.5"/],
    ["non-numeric index into an array", "{{steps.reserve.output.lines.first}}", /no value at "lines\.first"/],
    ["path through a scalar", "{{steps.reserve.output.id.length}}", /no value at "id\.length"/],
    ["inherited member", "{{steps.reserve.output.constructor}}", /no value at "constructor"/],
    ["inherited var", "{{vars.toString}}", /unknown var "toString"/],
    ["invalid template", "a {{oops}} b", /template \{\{oops\}\} at config\.x\.y\[0\]: not a valid template/],
  ];
  it.each(failures)("throws INVALID_ARGUMENT for %s", (_why, template, message) => {
    let error: unknown;
    try {
      renderTemplates({ x: { y: [template] } }, scope);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).reason).toBe("INVALID_ARGUMENT");
    expect((error as DomainError).message).toMatch(message);
    expect((error as DomainError).violations[0]?.field).toBe("config.x.y[0]");
  });

  it("keeps a __proto__ key as an ordinary key", () => {
    const config = JSON.parse('{"__proto__": {"polluted": "{{vars.region}}"}}') as Record<string, never>;
    const out = renderTemplates(config, scope);
    expect(Object.hasOwn(out, "__proto__")).toBe(true);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
  });
});
