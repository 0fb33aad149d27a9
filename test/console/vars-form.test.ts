import type { JsonObject } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fieldMessages, toProblem } from "../../src/console/api/problem.js";
import { serverPathsOf, unplacedPaths, varFields, varsFromValues } from "../../src/console/model/vars-form.js";
import type {} from "../helpers/global-setup.js"; // its ProvidedContext types the helpers inject() calls
import { startTestServer, type TestServer } from "../helpers/server.js";

/** The README's customer-onboarding schema, plus a var of each remaining kind. */
const SCHEMA: JsonObject = {
  type: "object",
  required: ["email", "seats"],
  additionalProperties: false,
  properties: {
    plan: { type: "string", enum: ["free", "team", "enterprise"], default: "free", description: "the price plan" },
    email: { type: "string", pattern: "^[^@\\s]+@[^@\\s]+$" },
    trial_days: { type: "integer", minimum: 0, maximum: 30, default: 14 },
    newsletter: { type: "boolean", default: false },
    seats: { type: ["integer", "null"], minimum: 1 },
    ratio: { type: "number", exclusiveMaximum: 1 },
    tags: { type: "array", items: { type: "string" } },
    region: { const: "eu" },
  },
};

describe("vars schema -> form fields", () => {
  const fields = varFields(SCHEMA);
  const byKey = new Map(fields.map((f) => [f.key, f]));

  it("one field per declared var, required first, each in schema order", () => {
    expect(fields.map((f) => f.key)).toEqual(["email", "seats", "plan", "trial_days", "newsletter", "ratio", "tags", "region"]);
    expect(fields.map((f) => f.control)).toContain("vars.trial_days");
  });

  it("types, enums, defaults, descriptions and constraints", () => {
    expect(byKey.get("plan")).toMatchObject({ kind: "enum", options: ["free", "team", "enterprise"], defaultText: "free", description: "the price plan", required: false });
    expect(byKey.get("email")).toMatchObject({ kind: "string", required: true, constraints: ["matches ^[^@\\s]+@[^@\\s]+$"] });
    expect(byKey.get("trial_days")).toMatchObject({ kind: "integer", defaultText: "14", constraints: ["0 to 30"] });
    expect(byKey.get("newsletter")).toMatchObject({ kind: "boolean", options: ["true", "false"], defaultText: "false" });
    expect(byKey.get("seats")).toMatchObject({ kind: "integer", required: true, constraints: ["at least 1"] });
    expect(byKey.get("ratio")).toMatchObject({ kind: "number", constraints: ["less than 1"] });
    expect(byKey.get("tags")).toMatchObject({ kind: "json", constraints: ["JSON array"] });
    expect(byKey.get("region")).toMatchObject({ kind: "enum", options: ["eu"] });
  });

  it("no schema, no vars", () => {
    expect(varFields(undefined)).toEqual([]);
  });
});

describe("form values -> vars", () => {
  const fields = varFields(SCHEMA);

  it("sends only what was given, as text, so the schema's defaults fill the rest", () => {
    const { vars, errors } = varsFromValues(fields, { email: "ada@example.com", seats: " 3 ", plan: "", newsletter: "true", ratio: "0.5" });
    expect(errors.size).toBe(0);
    expect(vars).toEqual({ email: "ada@example.com", seats: "3", newsletter: "true", ratio: "0.5" });
  });

  it("catches a missing required var and a value that is not of its type", () => {
    const { errors } = varsFromValues(fields, { seats: "three", ratio: "1/2", newsletter: "yes", tags: '["a"]' });
    expect(Object.fromEntries(errors)).toEqual({
      email: "is required",
      seats: "must be a whole number",
      ratio: "must be a number",
      newsletter: "must be one of true, false",
      tags: "sagad takes vars as text, so a JSON array or object var can only take its default",
    });
  });

  it("leaves range and pattern to the server", () => {
    expect(varsFromValues(fields, { email: "not-an-email", seats: "0", trial_days: "99" }).errors.size).toBe(0);
  });
});

describe("the server's verdict lands on the field it names", () => {
  let server: TestServer;
  const name = "onboarding";

  beforeAll(async () => {
    server = await startTestServer();
    await server.definitions().registerDefinition({
      spec: { name, varsSchema: SCHEMA, steps: [{ name: "a", action: "noop", config: { days: "{{vars.trial_days}}", plan: "{{vars.plan}}" } }] },
    });
  });
  afterAll(() => server.close());

  it("vars the form accepts start a saga, typed values converted by sagad", async () => {
    const { vars } = varsFromValues(varFields(SCHEMA), { email: "ada@example.com", seats: "2", newsletter: "true" });
    const { saga } = await server.client().createSaga({ definitionRef: { name }, vars });
    expect(saga?.vars).toMatchObject({ email: "ada@example.com", seats: "2", newsletter: "true", trial_days: "14", plan: "free" });
  });

  it("a var that breaks the schema is refused under a path the form places at its control", async () => {
    const fields = varFields(SCHEMA);
    const { vars, errors } = varsFromValues(fields, { email: "ada@example.com", seats: "2", trial_days: "99" });
    expect(errors.size).toBe(0);
    const err = await server.client().createSaga({ definitionRef: { name }, vars: { ...vars, extra: "x" } }).then(
      () => null,
      (e: unknown) => e,
    );
    const problem = toProblem(err);
    const atTrialDays = serverPathsOf("trial_days").flatMap((path) => fieldMessages(problem, path));
    expect(atTrialDays).toEqual(["must be <= 30"]);
    const placed = fields.flatMap((f) => serverPathsOf(f.key));
    expect(unplacedPaths(problem.fields.keys(), placed)).toEqual(['vars["extra"]']);
  });
});
