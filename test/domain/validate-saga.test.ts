import { describe, expect, it } from "vitest";
import { DomainError, type FieldViolation } from "../../src/domain/errors.js";
import type { JsonObject } from "../../src/domain/types.js";
import {
  DEFAULT_VALIDATION_LIMITS,
  validateCreateSaga,
  validateStepConfigReplacement,
  type RawCreateSaga,
  type RawRetryPolicy,
  type RawStepSpec,
  type ValidationLimits,
} from "../../src/domain/validate-saga.js";

const acceptsAction = (name: string) => ["noop", "sleep", "http"].includes(name);

const policy = (o: Partial<RawRetryPolicy> = {}): RawRetryPolicy => ({
  maxAttempts: 0,
  backoff: "",
  initialIntervalMs: null,
  maxIntervalMs: null,
  multiplier: 0,
  jitter: 0,
  timeoutMs: null,
  nonRetryableErrors: [],
  ...o,
});
const step = (name: string, o: Partial<RawStepSpec> = {}): RawStepSpec => ({
  name,
  action: "noop",
  config: null,
  dependsOn: [],
  compensate: null,
  retryPolicy: null,
  ...o,
});
/** n valid steps s0..s(n-1), with overrides at chosen indices. */
const steps = (n: number, at: Record<number, Partial<RawStepSpec>> = {}): RawStepSpec[] =>
  Array.from({ length: n }, (_, i) => step(`s${i}`, at[i]));
const saga = (o: Partial<RawCreateSaga> = {}): RawCreateSaga => ({
  name: "checkout",
  steps: [step("a")],
  vars: {},
  labels: {},
  failurePolicy: "",
  maxRetries: 0,
  requestId: "",
  definition: "",
  definitionRef: null,
  ...o,
});

function violations(raw: RawCreateSaga, limits: ValidationLimits = DEFAULT_VALIDATION_LIMITS): FieldViolation[] {
  try {
    validateCreateSaga(raw, limits, acceptsAction);
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    expect((e as DomainError).reason).toBe("INVALID_ARGUMENT");
    return [...(e as DomainError).violations];
  }
  throw new Error("expected validation to fail");
}

/** The request has exactly one problem, on `field`, described by `description`. */
function expectOnly(raw: RawCreateSaga, field: string, description: RegExp, limits?: ValidationLimits): void {
  expect(violations(raw, limits)).toEqual([{ field, description: expect.stringMatching(description) }]);
}

describe("validateCreateSaga: a valid request", () => {
  it("applies every default", () => {
    const v = validateCreateSaga(
      saga({ steps: [step("a"), step("b", { dependsOn: ["a"], compensate: { action: "http", config: null, retryPolicy: null } })] }),
      DEFAULT_VALIDATION_LIMITS,
      acceptsAction,
    );
    expect(v).toMatchObject({ name: "checkout", failurePolicy: "HOLD", maxRetries: 3, requestId: null, definition: "", vars: {}, labels: {} });
    expect(v.steps[0]).toEqual({
      name: "a",
      action: "noop",
      config: {},
      dependsOn: [],
      compensate: null,
      retryPolicy: { maxAttempts: 3, backoff: "EXPONENTIAL", initialIntervalMs: 1000, maxIntervalMs: 60_000, multiplier: 2, jitter: 0, timeoutMs: 0, nonRetryableErrors: [] },
    });
    expect(v.steps[1]?.compensate).toEqual({ action: "http", config: {}, retryPolicy: { ...v.steps[0]!.retryPolicy, maxAttempts: 5 } });
  });

  it("keeps what the caller set", () => {
    const v = validateCreateSaga(
      saga({
        name: "orders/checkout:v1.2_x-y",
        failurePolicy: "COMPENSATE",
        maxRetries: 7,
        requestId: "req-1",
        definition: "checkout@v3",
        vars: { region: "eu", _x1: "" },
        labels: { "team.io/owner": "pay" },
        steps: [
          step("a", {
            retryPolicy: policy({ maxAttempts: 100, backoff: "LINEAR", initialIntervalMs: 3_600_000, multiplier: 10, jitter: 1, timeoutMs: 86_400_000, nonRetryableErrors: ["HTTP_4XX"] }),
          }),
        ],
      }),
      DEFAULT_VALIDATION_LIMITS,
      acceptsAction,
    );
    expect(v).toMatchObject({ failurePolicy: "COMPENSATE", maxRetries: 7, requestId: "req-1", definition: "checkout@v3" });
    // An unset max_interval grows to the (larger) initial interval instead of failing.
    expect(v.steps[0]?.retryPolicy).toEqual({
      maxAttempts: 100,
      backoff: "LINEAR",
      initialIntervalMs: 3_600_000,
      maxIntervalMs: 3_600_000,
      multiplier: 10,
      jitter: 1,
      timeoutMs: 86_400_000,
      nonRetryableErrors: ["HTTP_4XX"],
    });
  });

  it("allows templates that read vars, saga fields and transitive upstream steps", () => {
    const raw = saga({
      vars: { region: "eu" },
      steps: [
        step("a"),
        step("b", { dependsOn: ["a"] }),
        step("c", {
          dependsOn: ["b"],
          config: { url: "https://{{vars.region}}/{{ saga.id }}/{{steps.a.output.id}}", n: "{{steps.b.output.items.0}}" },
          compensate: { action: "http", config: { id: "{{steps.c.output.id}}", a: "{{steps.a.output}}" }, retryPolicy: null },
        }),
      ],
    });
    expect(() => validateCreateSaga(raw, DEFAULT_VALIDATION_LIMITS, acceptsAction)).not.toThrow();
  });

  it("validates a 1,000-step chain with a template per step in well under a second", () => {
    const chain = steps(1000, {});
    chain.forEach((s, i) => {
      if (i > 0) Object.assign(s, { dependsOn: [`s${i - 1}`], config: { id: `{{steps.s${i - 1}.output.id}}`, first: "{{steps.s0.output}}" } });
    });
    const started = performance.now();
    const v = validateCreateSaga(saga({ steps: chain }), DEFAULT_VALIDATION_LIMITS, acceptsAction);
    expect(performance.now() - started).toBeLessThan(500);
    expect(v.steps).toHaveLength(1000);
  });
});

describe("validateCreateSaga: field paths at any index", () => {
  it("spells indices 10, 12, 100 and 999 in decimal", () => {
    const raw = saga({
      steps: steps(1000, {
        10: { name: "" },
        12: { action: "launch" },
        100: { dependsOn: ["nope"] },
        999: { retryPolicy: policy({ maxAttempts: 101 }) },
      }),
    });
    expect(violations(raw).map((v) => v.field)).toEqual([
      "steps[10].name",
      "steps[12].action",
      "steps[100].depends_on[0]",
      "steps[999].retry_policy.max_attempts",
    ]);
  });
});

describe("validateCreateSaga: saga fields", () => {
  it.each([
    ["", /is required/],
    ["x".repeat(201), /1 to 200 of/],
    ["-checkout", /starting with a letter or digit/],
    ["check out", /\[A-Za-z0-9_.:\/-\]/],
  ])("rejects name %j", (name, description) => expectOnly(saga({ name }), "name", description));

  it("requires at least one step", () => expectOnly(saga({ steps: [] }), "steps", /at least one step/));

  it("rejects too many steps with one violation, without checking each", () => {
    const limits = { ...DEFAULT_VALIDATION_LIMITS, maxSteps: 5 };
    expectOnly(saga({ steps: steps(6, { 0: { name: "" }, 5: { action: "" } }) }), "steps", /has 6 steps; at most 5/, limits);
  });

  it.each([
    ["bad key", /key must be 1 to 128/],
    ["1abc", /not starting with a digit/],
    ["a".repeat(129), /key must be 1 to 128/],
  ])("rejects var key %j", (key, description) =>
    expectOnly(saga({ vars: { [key]: "v" } }), `vars[${JSON.stringify(key)}]`, description));

  it("rejects a var value over 64 KiB, counting UTF-8 bytes", () => {
    expectOnly(saga({ vars: { big: "é".repeat(32 * 1024 + 1) } }), 'vars["big"]', /value is 65538 bytes; at most 65536/);
  });

  it.each([["", /1 to 63/], ["a b", /\[A-Za-z0-9_.\/-\]/], ["k".repeat(64), /1 to 63/]])("rejects label key %j", (key, description) =>
    expectOnly(saga({ labels: { [key]: "v" } }), `labels[${JSON.stringify(key)}]`, description));

  it("rejects a label value over 256 characters", () => {
    expectOnly(saga({ labels: { team: "😀".repeat(257) } }), 'labels["team"]', /value is 257 characters; at most 256/);
  });

  it("rejects more than 64 labels", () => {
    const labels = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"]));
    expectOnly(saga({ labels }), "labels", /has 65 labels; at most 64/);
  });

  it.each(["7", "FAILURE_POLICY_HOLD", "hold"])("rejects failure_policy %j", (failurePolicy) =>
    expectOnly(saga({ failurePolicy }), "failure_policy", /unknown failure policy.*expected HOLD or COMPENSATE/));

  it.each([-1, 101, 1.5, Number.NaN])("rejects max_retries %d", (maxRetries) =>
    expectOnly(saga({ maxRetries }), "max_retries", /between 0 and 100/));

  it("rejects request_id and definition over 200 characters", () => {
    expect(violations(saga({ requestId: "r".repeat(201), definition: "d".repeat(201) }))).toEqual([
      { field: "request_id", description: "must be at most 200 characters; got 201" },
      { field: "definition", description: "must be at most 200 characters; got 201" },
    ]);
  });
});

describe("validateCreateSaga: steps", () => {
  it.each([
    ["", /is required/],
    ["_a", /starting with a letter or digit/],
    ["a.b", /1 to 64 of \[A-Za-z0-9_-\]/],
    ["n".repeat(65), /1 to 64/],
  ])("rejects step name %j", (name, description) =>
    expectOnly(saga({ steps: steps(11, { 10: { name } }) }), "steps[10].name", description));

  it("names the earlier index of a duplicate step name", () => {
    expectOnly(saga({ steps: steps(101, { 100: { name: "s3" } }) }), "steps[100].name", /duplicate step name "s3"; steps\[3\] already has it/);
  });

  it("requires a registered action, for steps and compensations", () => {
    const raw = saga({
      steps: steps(13, {
        10: { action: "" },
        11: { action: "launch-missiles" },
        12: { compensate: { action: "", config: null, retryPolicy: null } },
        3: { compensate: { action: "undo", config: null, retryPolicy: null } },
      }),
    });
    expect(violations(raw)).toEqual([
      { field: "steps[3].compensate.action", description: expect.stringMatching(/unknown action "undo"/) },
      { field: "steps[10].action", description: "is required" },
      { field: "steps[11].action", description: expect.stringMatching(/unknown action "launch-missiles"; an action is built in/) },
      { field: "steps[12].compensate.action", description: "is required" },
    ]);
  });

  it("rejects bad depends_on entries, each at its own index", () => {
    const raw = saga({ steps: steps(13, { 10: { dependsOn: ["s1", "s1", "s10", "ghost", ""] }, 12: { dependsOn: ["s11"] } }) });
    expect(violations(raw)).toEqual([
      { field: "steps[10].depends_on[1]", description: expect.stringMatching(/duplicate dependency "s1"; depends_on\[0\]/) },
      { field: "steps[10].depends_on[2]", description: expect.stringMatching(/cannot depend on itself/) },
      { field: "steps[10].depends_on[3]", description: expect.stringMatching(/unknown step "ghost"/) },
      { field: "steps[10].depends_on[4]", description: expect.stringMatching(/must name a step/) },
    ]);
  });

  it("shows a cycle as a -> b -> a on the depends_on of a step in it", () => {
    expectOnly(saga({ steps: [step("a", { dependsOn: ["b"] }), step("b", { dependsOn: ["a"] })] }), "steps[0].depends_on", /^dependency cycle: a -> b -> a$/);
  });

  it("reports a longer cycle at indices past 10 once, naming its steps in order", () => {
    const raw = saga({ steps: steps(14, { 10: { dependsOn: ["s12"] }, 11: { dependsOn: ["s10"] }, 12: { dependsOn: ["s11"] }, 13: { dependsOn: ["s12"] } }) });
    expectOnly(raw, "steps[10].depends_on", /^dependency cycle: s10 -> s12 -> s11 -> s10$/);
  });

  it("collects violations across the request in field order", () => {
    const raw = saga({ name: "", steps: steps(11, { 10: { action: "" } }), maxRetries: -1 });
    expect(violations(raw).map((v) => v.field)).toEqual(["name", "steps[10].action", "max_retries"]);
  });

  it("stops at 100 violations and says how many more were listed", () => {
    let error: DomainError | undefined;
    try {
      validateCreateSaga(saga({ steps: steps(1000, Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [i, { action: "" }]))) }), DEFAULT_VALIDATION_LIMITS, acceptsAction);
    } catch (e) {
      error = e as DomainError;
    }
    expect(error?.violations).toHaveLength(100);
    expect(error?.violations[99]?.field).toBe("steps[99].action");
    expect(error?.message).toBe("steps[0].action: is required (and 99 more)");
  });
});

describe("validateCreateSaga: templates", () => {
  it("rejects reading a step that is not upstream, naming it", () => {
    const raw = saga({ steps: steps(13, { 12: { dependsOn: ["s10"], config: { url: "https://x/{{steps.s11.output.id}}" } } }) });
    expectOnly(raw, "steps[12].config.url", /\{\{steps\.s11\.output\.id\}\}: reads step "s11", which is not upstream of step "s12"; add "s11" to depends_on/);
  });

  it("rejects a step reading its own output, but lets its compensation do so", () => {
    const raw = saga({
      steps: steps(11, { 10: { config: { me: "{{steps.s10.output}}" }, compensate: { action: "noop", config: { me: "{{steps.s10.output.id}}" }, retryPolicy: null } } }),
    });
    expectOnly(raw, "steps[10].config.me", /reads step "s10", which is not upstream of step "s10"/);
  });

  it("rejects a compensation reading a downstream step", () => {
    const raw = saga({ steps: steps(12, { 11: { dependsOn: ["s10"] }, 10: { compensate: { action: "noop", config: { x: ["{{steps.s11.output}}"] }, retryPolicy: null } } }) });
    expectOnly(raw, "steps[10].compensate.config.x[0]", /reads step "s11", which is not upstream of step "s10"/);
  });

  it("rejects unknown steps, unknown vars and invalid templates at their JSON path", () => {
    const raw = saga({
      vars: { region: "eu" },
      steps: steps(11, { 10: { config: { headers: { "X-Region": "{{vars.zone}}" }, items: [{ id: "{{steps.ghost.output}}" }, "{{ nope }}"] } } }),
    });
    expect(violations(raw)).toEqual([
      { field: 'steps[10].config.headers["X-Region"]', description: expect.stringMatching(/\{\{vars\.zone\}\}: unknown var "zone"/) },
      { field: "steps[10].config.items[0].id", description: expect.stringMatching(/reads step "ghost", which does not exist/) },
      { field: "steps[10].config.items[1]", description: expect.stringMatching(/invalid template \{\{ nope \}\}; expected \{\{vars\.NAME\}\}/) },
    ]);
  });

  it("still reports missing steps and vars when there is a cycle", () => {
    const raw = saga({ steps: [step("a", { dependsOn: ["b"], config: { v: "{{vars.x}}" } }), step("b", { dependsOn: ["a"] })] });
    expect(violations(raw).map((v) => v.field)).toEqual(["steps[0].depends_on", "steps[0].config.v"]);
  });
});

describe("validateCreateSaga: config limits", () => {
  const nest = (levels: number): JsonObject => {
    let value: JsonObject = {};
    for (let i = 1; i < levels; i++) value = { a: value };
    return value;
  };

  it("rejects a config over maxConfigBytes, counting UTF-8 bytes and stating size and limit", () => {
    const limits = { ...DEFAULT_VALIDATION_LIMITS, maxConfigBytes: 100 };
    // {"s":"é…"}: 8 bytes of syntax + 50 × 2 bytes = 108 bytes but only 58 characters.
    expectOnly(saga({ steps: steps(11, { 10: { config: { s: "é".repeat(50) } } }) }), "steps[10].config", /is 108 bytes as JSON; at most 100 are allowed/, limits);
  });

  it("rejects a default-limit config over 256 KiB", () => {
    expectOnly(saga({ steps: [step("a", { config: { s: "x".repeat(256 * 1024) } })] }), "steps[0].config", /at most 262144/);
  });

  it("allows exactly maxJsonDepth levels and rejects one more", () => {
    expect(() => validateCreateSaga(saga({ steps: [step("a", { config: nest(32) })] }), DEFAULT_VALIDATION_LIMITS, acceptsAction)).not.toThrow();
    expectOnly(saga({ steps: steps(13, { 12: { config: nest(33) } }) }), "steps[12].config", /deeper than 32 levels/);
  });

  it("rejects a hostile depth without exhausting the stack", () => {
    expectOnly(saga({ steps: [step("a", { compensate: { action: "noop", config: nest(200_000), retryPolicy: null } })] }), "steps[0].compensate.config", /deeper than 32/);
  });

  it("counts arrays as levels", () => {
    const limits = { ...DEFAULT_VALIDATION_LIMITS, maxJsonDepth: 2 };
    expectOnly(saga({ steps: [step("a", { config: { a: [[1]] } })] }), "steps[0].config", /deeper than 2/, limits);
  });

  it("rejects NaN and Infinity inside a config", () => {
    const raw = saga({ steps: steps(11, { 10: { config: { n: Number.NaN, list: [1, Number.POSITIVE_INFINITY] } } }) });
    expect(violations(raw)).toEqual([
      { field: "steps[10].config.n", description: "must be a finite number; got NaN" },
      { field: "steps[10].config.list[1]", description: "must be a finite number; got Infinity" },
    ]);
  });
});

describe("validateCreateSaga: retry policies", () => {
  const cases: [Partial<RawRetryPolicy>, string, RegExp][] = [
    [{ maxAttempts: 101 }, "max_attempts", /between 1 and 100 \(0 means the default, 3\); got 101/],
    [{ maxAttempts: -1 }, "max_attempts", /got -1/],
    [{ backoff: "7" }, "backoff", /unknown backoff "7"; expected FIXED, LINEAR or EXPONENTIAL/],
    [{ backoff: "BACKOFF_FIXED" }, "backoff", /unknown backoff/],
    [{ initialIntervalMs: -5 }, "initial_interval", /must not be negative; got -5ms/],
    [{ initialIntervalMs: 3_600_001 }, "initial_interval", /between 1ms and 1h; got 3600001ms/],
    [{ initialIntervalMs: 1.5 }, "initial_interval", /whole number of milliseconds/],
    [{ initialIntervalMs: Number.POSITIVE_INFINITY }, "initial_interval", /finite duration/],
    [{ initialIntervalMs: 5000, maxIntervalMs: 2000 }, "max_interval", /at least initial_interval \(5s\); got 2s/],
    [{ maxIntervalMs: 86_400_001 }, "max_interval", /between 1ms and 24h/],
    [{ multiplier: 0.5 }, "multiplier", /between 1 and 10 \(0 means the default, 2\); got 0.5/],
    [{ multiplier: 11 }, "multiplier", /got 11/],
    [{ multiplier: Number.NaN }, "multiplier", /got NaN/],
    [{ jitter: -0.1 }, "jitter", /between 0 and 1; got -0.1/],
    [{ jitter: 1.5 }, "jitter", /got 1.5/],
    [{ jitter: Number.NaN }, "jitter", /got NaN/],
    [{ timeoutMs: -1 }, "timeout", /must not be negative/],
    [{ timeoutMs: 86_400_001 }, "timeout", /between 0s and 24h/],
    [{ nonRetryableErrors: ["HTTP_4XX", ""] }, "non_retryable_errors[1]", /must not be empty/],
    [{ nonRetryableErrors: ["E".repeat(65)] }, "non_retryable_errors[0]", /at most 64 characters; got 65/],
  ];

  it.each(cases)("step policy %o is rejected on %s", (o, field, description) =>
    expectOnly(saga({ steps: steps(11, { 10: { retryPolicy: policy(o) } }) }), `steps[10].retry_policy.${field}`, description));

  it.each(cases)("compensation policy %o is rejected on %s", (o, field, description) => {
    const compensate = { action: "noop", config: null, retryPolicy: policy(o) };
    const expected = description.source.replace("the default, 3", "the default, 5");
    expectOnly(saga({ steps: steps(13, { 12: { compensate } }) }), `steps[12].compensate.retry_policy.${field}`, new RegExp(expected));
  });

  it("treats zero values as defaults", () => {
    const v = validateCreateSaga(
      saga({ steps: [step("a", { retryPolicy: policy({ initialIntervalMs: 0, maxIntervalMs: 0, timeoutMs: 0 }), compensate: { action: "noop", config: null, retryPolicy: policy() } })] }),
      DEFAULT_VALIDATION_LIMITS,
      acceptsAction,
    );
    expect(v.steps[0]?.retryPolicy).toMatchObject({ maxAttempts: 3, backoff: "EXPONENTIAL", initialIntervalMs: 1000, maxIntervalMs: 60_000, multiplier: 2, timeoutMs: 0 });
    expect(v.steps[0]?.compensate?.retryPolicy.maxAttempts).toBe(5);
  });
});

describe("validateStepConfigReplacement", () => {
  const defined = validateCreateSaga(
    saga({ steps: [step("a"), step("b", { dependsOn: ["a"] }), step("c", { dependsOn: ["b"] }), step("d")] }),
    DEFAULT_VALIDATION_LIMITS,
    acceptsAction,
  ).steps;
  const replace = (config: JsonObject, stepName = "c", prefix?: string) =>
    validateStepConfigReplacement(defined, stepName, config, { region: "eu" }, DEFAULT_VALIDATION_LIMITS, prefix);
  const failure = (fn: () => void): DomainError => {
    try {
      fn();
    } catch (e) {
      return e as DomainError;
    }
    throw new Error("expected a DomainError");
  };

  it("accepts templates reading vars and transitive upstream steps", () => {
    expect(() => replace({ u: "{{vars.region}}/{{steps.a.output.id}}/{{steps.b.output}}" })).not.toThrow();
  });

  it("rejects a step that is not upstream, with the path under config", () => {
    const e = failure(() => replace({ url: "{{steps.d.output.id}}" }));
    expect(e.reason).toBe("INVALID_ARGUMENT");
    expect(e.violations).toEqual([{ field: "config.url", description: expect.stringMatching(/reads step "d", which is not upstream of step "c"/) }]);
  });

  it("uses the given field prefix and applies the var, size and depth rules", () => {
    expect(failure(() => replace({ v: "{{vars.zone}}" }, "c", "new_config")).violations[0]?.field).toBe("new_config.v");
    const tight = { ...DEFAULT_VALIDATION_LIMITS, maxConfigBytes: 10 };
    const e = failure(() => validateStepConfigReplacement(defined, "a", { long: "xxxxxxxx" }, {}, tight));
    expect(e.violations).toEqual([{ field: "config", description: "is 19 bytes as JSON; at most 10 are allowed" }]);
  });

  it("rejects an unknown step on `step`", () => {
    expect(failure(() => replace({}, "zz")).violations).toEqual([{ field: "step", description: 'the saga has no step "zz"' }]);
  });
});
