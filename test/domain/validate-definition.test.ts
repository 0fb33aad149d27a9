import { describe, expect, it } from "vitest";
import { DomainError } from "../../src/domain/errors.js";
import { validateDefinitionSpec, type RawDefinitionSpec } from "../../src/domain/validate-definition.js";
import { DEFAULT_VALIDATION_LIMITS, validateCreateFromDefinition, type DefinitionGuard, type RawCreateSaga } from "../../src/domain/validate-saga.js";
import type { JsonObject } from "../../src/domain/types.js";

const GUARD: DefinitionGuard = { state: "ACTIVE", latest: false };

const step = (name: string, config: JsonObject = {}, dependsOn: string[] = []) => ({ name, action: "noop", config, dependsOn, compensate: null, retryPolicy: null });
const spec = (o: Partial<RawDefinitionSpec> = {}): RawDefinitionSpec => ({
  name: "order", description: "", labels: {}, failurePolicy: "", maxRetries: 0, varsSchema: null, steps: [step("a")], ...o,
});
const compile = (o: Partial<RawDefinitionSpec>) => validateDefinitionSpec(spec(o), DEFAULT_VALIDATION_LIMITS, (a) => a === "noop");
const violations = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof DomainError) return err.violations.map((v) => `${v.field}: ${v.description}`);
    throw err;
  }
  throw new Error("no violation");
};
const create = (vars: Record<string, string>): RawCreateSaga => ({
  name: "", steps: [], vars, labels: {}, failurePolicy: "", maxRetries: 0, requestId: "", definition: "", definitionRef: { name: "order", version: 0 },
});

describe("validateDefinitionSpec", () => {
  it("reports schema errors at deep paths, array indices included", () => {
    const schema = { type: "object", properties: { items: { type: "array", prefixItems: [{ type: "strng" }] } } };
    expect(violations(() => compile({ varsSchema: schema }))).toEqual([expect.stringMatching(/^vars_schema\.properties\.items\.prefixItems\[0\]\.type: /)]);
  });

  it("requires an object schema with properties, and names an unknown keyword where it is", () => {
    expect(violations(() => compile({ varsSchema: { type: "string" } }))[0]).toMatch(/^vars_schema\.type: must be "object"/);
    expect(violations(() => compile({ varsSchema: { type: "object" } }))[0]).toMatch(/^vars_schema\.properties: is required/);
    expect(violations(() => compile({ varsSchema: { type: "object", properties: { a: { type: "string", minLenght: 1 } } } }))).toEqual([
      'vars_schema.properties.a.minLenght: unknown JSON Schema keyword "minLenght"',
    ]);
  });

  it("lets templates read only declared vars, and still checks the DAG with every path", () => {
    const out = violations(() =>
      compile({ varsSchema: { type: "object", properties: { ok: { type: "string" } } }, steps: [step("a", { x: "{{vars.ok}}", y: "{{vars.nope}}" }), step("b", {}, ["zz"])] }),
    );
    expect(out).toEqual([
      "steps[1].depends_on[0]: unknown step \"zz\"; no step has that name",
      'steps[0].config.y: template {{vars.nope}}: unknown var "nope"; vars_schema.properties does not declare it',
    ]);
  });
});

describe("validateCreateFromDefinition", () => {
  const def = compile({
    varsSchema: { type: "object", properties: { n: { type: "integer", default: 3 }, flag: { type: "boolean" }, tag: { type: "string" } } },
    steps: [step("a", { n: "{{vars.n}}", tag: "{{vars.tag}}" })],
  });

  it("converts, defaults and keeps vars as text; takes the definition's steps and name", () => {
    const saga = validateCreateFromDefinition(create({ flag: "true", tag: "x" }), def, 4, GUARD);
    expect(saga.vars).toEqual({ n: "3", flag: "true", tag: "x" });
    expect(saga.name).toBe("order");
    expect(saga.definitionRef).toEqual({ name: "order", version: 4 });
    expect(saga.steps).toBe(def.steps);
  });

  it("names each bad var, and a var a template needs that has neither value nor default", () => {
    expect(violations(() => validateCreateFromDefinition(create({ n: "1.5", tag: "x" }), def, 1, GUARD))).toEqual(['vars["n"]: must be integer']);
    expect(violations(() => validateCreateFromDefinition(create({}), def, 1, GUARD))).toEqual([
      'vars["tag"]: is read by the definition\'s steps[0].config.tag; give it, or give it a default in vars_schema',
    ]);
  });

  it("refuses vars a definition without a schema does not take", () => {
    expect(violations(() => validateCreateFromDefinition(create({ x: "1" }), compile({}), 1, GUARD))[0]).toMatch(/^vars\["x"\]: unknown var/);
  });
});
