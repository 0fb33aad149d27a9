import { Code } from "@connectrpc/connect";
import type { Backoff, FailurePolicy } from "../../src/client/index.js";
import type { CreateSagaInit, StepSpecInit } from "../helpers/rpc.js";
import { chars, DECODER_REFUSAL, nested, type Expectation, type TypedCase } from "./corpus.js";

/**
 * Malformed CreateSaga requests a generated client can send, each with the answer the server
 * promises (src/domain/validate-*.ts): INVALID_ARGUMENT naming the exact field path, or
 * RESOURCE_EXHAUSTED past the request size limit. None of them may store anything.
 */
export function createSagaCases(): TypedCase[] {
  const cases: TypedCase[] = [];
  const add = (name: string, request: () => CreateSagaInit, want: Expectation) =>
    cases.push({ name, rpc: "CreateSaga", call: (c, _f, o) => c.createSaga(request(), o), ...want });
  const invalid = (field: string | RegExp, message?: string): Expectation => ({ code: Code.InvalidArgument, field, message });
  const one = (step: StepSpecInit, over: CreateSagaInit = {}) => () => ({ name: "bad-input", steps: [step], ...over });
  const A: StepSpecInit = { name: "a", action: "noop" };
  type Plain = { name: string; action: string; dependsOn: string[] };
  const chain = (n: number, edit: (step: Plain, i: number) => StepSpecInit = (s) => s): StepSpecInit[] =>
    Array.from({ length: n }, (_, i) => edit({ name: `s${i}`, action: "noop", dependsOn: i ? [`s${i - 1}`] : [] }, i));
  const withSteps = (steps: () => StepSpecInit[]) => () => ({ name: "bad-input", steps: steps() });
  const dur = (seconds: number, nanos = 0) => ({ seconds: BigInt(seconds), nanos });
  const policy = (p: Record<string, unknown>) => one({ ...A, retryPolicy: p });

  // The saga as a whole.
  add("empty request", () => ({}), invalid("name"));
  add("no name", () => ({ steps: [A] }), invalid("name"));
  add("name with a space", () => ({ name: "bad name", steps: [A] }), invalid("name"));
  add("name of 201 characters", () => ({ name: chars(201), steps: [A] }), invalid("name"));
  add("name starting with a dash", () => ({ name: "-x", steps: [A] }), invalid("name"));
  add("no steps", () => ({ name: "bad-input" }), invalid("steps", "at least one step"));
  add("10,000 steps", withSteps(() => chain(10_000)), invalid("steps", "at most 1000"));
  add("1,001 steps", withSteps(() => chain(1_001)), invalid("steps", "at most 1000"));
  add("failure_policy 99 (unknown enum)", one(A, { failurePolicy: 99 as FailurePolicy }), invalid("failure_policy"));
  add("failure_policy -1", one(A, { failurePolicy: -1 as FailurePolicy }), invalid("failure_policy"));
  add("max_retries -1", one(A, { maxRetries: -1 }), invalid("max_retries"));
  add("max_retries 101", one(A, { maxRetries: 101 }), invalid("max_retries"));
  add("request_id of 201 characters", one(A, { requestId: chars(201) }), invalid("request_id"));
  add("definition of 201 characters", one(A, { definition: chars(201) }), invalid("definition"));
  add("var key with a dash", one(A, { vars: { "bad-key": "v" } }), invalid('vars["bad-key"]'));
  add("var key starting with a digit", one(A, { vars: { "1x": "v" } }), invalid('vars["1x"]'));
  add("var value of 65 KiB", one(A, { vars: { big: chars(65 * 1024) } }), invalid('vars["big"]'));
  add("65 labels", one(A, { labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"])) }), invalid("labels"));
  add("label key with a space", one(A, { labels: { "bad key": "v" } }), invalid('labels["bad key"]'));
  add("label value of 257 characters", one(A, { labels: { k: chars(257) } }), invalid('labels["k"]'));

  // Step names, actions and dependencies, including at indices >= 10.
  add("empty step name", one({ ...A, name: "" }), invalid("steps[0].name"));
  add("step name with a slash", one({ ...A, name: "a/b" }), invalid("steps[0].name"));
  add("step name of 65 characters", one({ ...A, name: chars(65) }), invalid("steps[0].name"));
  add("duplicate step names", withSteps(() => [A, A]), invalid("steps[1].name", "duplicate step name"));
  add("duplicate step name at index 11", withSteps(() => [...chain(11), { name: "s3", action: "noop" }]), invalid("steps[11].name", "steps[3]"));
  add("invalid action name", one({ ...A, action: "launch missiles!" }), invalid("steps[0].action", "unknown action"));
  add("empty action", one({ ...A, action: "" }), invalid("steps[0].action"));
  add("invalid action name at index 999 of 1,000", withSteps(() => chain(1000, (s, i) => (i === 999 ? { ...s, action: "no pe!" } : s))), invalid("steps[999].action"));
  add("unknown dependency", one({ ...A, dependsOn: ["ghost"] }), invalid("steps[0].depends_on[0]", "unknown step"));
  add("unknown dependency at index 12", withSteps(() => [...chain(12), { name: "x", action: "noop", dependsOn: ["ghost"] }]), invalid("steps[12].depends_on[0]"));
  add("self dependency", one({ ...A, dependsOn: ["a"] }), invalid("steps[0].depends_on[0]", "itself"));
  add("duplicate dependency", withSteps(() => [A, { name: "b", action: "noop", dependsOn: ["a", "a"] }]), invalid("steps[1].depends_on[1]"));
  add("empty dependency name", withSteps(() => [A, { name: "b", action: "noop", dependsOn: [""] }]), invalid("steps[1].depends_on[0]"));
  add(
    "two-step cycle",
    withSteps(() => [{ name: "a", action: "noop", dependsOn: ["b"] }, { name: "b", action: "noop", dependsOn: ["a"] }]),
    invalid(/^steps\[[01]\]\.depends_on$/, "dependency cycle"),
  );
  add(
    "cycle among steps 10 to 12",
    withSteps(() => [...chain(10), ...[10, 11, 12].map((i) => ({ name: `s${i}`, action: "noop", dependsOn: [`s${i === 10 ? 12 : i - 1}`] }))]),
    invalid(/^steps\[1[0-2]\]\.depends_on$/, "->"),
  );
  add("ring of 500 steps", withSteps(() => chain(500, (s, i) => (i === 0 ? { ...s, dependsOn: ["s499"] } : s))), invalid(/depends_on$/, "dependency cycle"));
  add("violations capped at 100", withSteps(() => chain(1000, (s) => ({ ...s, action: "no pe!" }))), {
    code: Code.InvalidArgument,
    verify: (o) => (o.fields.length === 100 ? null : `expected 100 violations, got ${o.fields.length}`),
  });

  // Configs: size, depth, numbers, templates.
  add("10 MB config", one({ ...A, config: { blob: chars(10 * 1024 * 1024) } }), invalid("steps[0].config", "at most"));
  add("40 MB request (over the 32 MiB limit)", one({ ...A, config: { blob: chars(40 * 1024 * 1024) } }), { code: Code.ResourceExhausted });
  add("config nested 33 deep (limit 32)", one({ ...A, config: nested(33) as never }), invalid("steps[0].config", "deeper than"));
  add("config nested 45 deep", one({ ...A, config: nested(45) as never }), invalid("steps[0].config", "deeper than"));
  add("compensation config nested 40 deep", one({ ...A, compensate: { action: "noop", config: nested(40) as never } }), invalid("steps[0].compensate.config"));
  // Past the decoder's recursion limit (100 messages: a JSON level is a Struct and a Value).
  add("config nested 100 deep", one({ ...A, config: nested(100) as never }), DECODER_REFUSAL);
  add("NaN in config", one({ ...A, config: { x: Number.NaN } }), invalid("steps[0].config.x", "finite"));
  add("Infinity deep in config", one({ ...A, config: { list: [1, { y: Number.POSITIVE_INFINITY }] } }), invalid("steps[0].config.list[1].y"));
  add("template reads an unknown var", one({ ...A, config: { x: "{{vars.nope}}" } }), invalid("steps[0].config.x", "unknown var"));
  add("template reads an unknown step", one({ ...A, config: { x: "{{steps.ghost.output.id}}" } }), invalid("steps[0].config.x", "does not exist"));
  add(
    "template reads a step that is not upstream",
    withSteps(() => [{ ...A, config: { x: "{{steps.b.output.id}}" } }, { name: "b", action: "noop" }]),
    invalid("steps[0].config.x", "not upstream"),
  );
  add("malformed template", one({ ...A, config: { x: "{{ what is this }}" } }), invalid("steps[0].config.x", "invalid template"));
  add(
    "compensation template reads a downstream step",
    withSteps(() => [{ ...A, compensate: { action: "noop", config: { x: "{{steps.b.output.id}}" } } }, { name: "b", action: "noop", dependsOn: ["a"] }]),
    invalid("steps[0].compensate.config.x"),
  );
  add("compensation with an invalid action name", one({ ...A, compensate: { action: "no pe!" } }), invalid("steps[0].compensate.action"));
  add("compensation with no action", one({ ...A, compensate: { action: "" } }), invalid("steps[0].compensate.action"));

  // Retry policies: enums, durations, ranges.
  add("backoff 42 (unknown enum)", policy({ backoff: 42 as Backoff }), invalid("steps[0].retry_policy.backoff"));
  add("compensation backoff -1", one({ ...A, compensate: { action: "noop", retryPolicy: { backoff: -1 as Backoff } } }), invalid("steps[0].compensate.retry_policy.backoff"));
  add("negative initial_interval", policy({ initialInterval: dur(-1) }), invalid("steps[0].retry_policy.initial_interval", "negative"));
  add("negative max_interval", policy({ maxInterval: dur(0, -5_000_000) }), invalid("steps[0].retry_policy.max_interval"));
  add("negative timeout", policy({ timeout: dur(-30) }), invalid("steps[0].retry_policy.timeout"));
  add("max_interval below initial_interval", policy({ initialInterval: dur(10), maxInterval: dur(5) }), invalid("steps[0].retry_policy.max_interval"));
  add("initial_interval of 2 hours", policy({ initialInterval: dur(7200) }), invalid("steps[0].retry_policy.initial_interval"));
  add("timeout of 2 days", policy({ timeout: dur(172_800) }), invalid("steps[0].retry_policy.timeout"));
  add("initial_interval of 1.5 ms", policy({ initialInterval: dur(0, 1_500_000) }), invalid("steps[0].retry_policy.initial_interval", "whole number"));
  add("duration with nanos out of range", policy({ initialInterval: dur(1, 1_500_000_000) }), invalid("steps[0].retry_policy.initial_interval"));
  add("duration with mixed signs", policy({ timeout: dur(5, -500_000_000) }), invalid("steps[0].retry_policy.timeout"));
  add("max_attempts 101", policy({ maxAttempts: 101 }), invalid("steps[0].retry_policy.max_attempts"));
  add("max_attempts -1", policy({ maxAttempts: -1 }), invalid("steps[0].retry_policy.max_attempts"));
  add("multiplier 0.5", policy({ multiplier: 0.5 }), invalid("steps[0].retry_policy.multiplier"));
  add("multiplier NaN", policy({ multiplier: Number.NaN }), invalid("steps[0].retry_policy.multiplier"));
  add("jitter 1.5", policy({ jitter: 1.5 }), invalid("steps[0].retry_policy.jitter"));
  add("jitter -0.1", policy({ jitter: -0.1 }), invalid("steps[0].retry_policy.jitter"));
  add("empty non_retryable_errors entry", policy({ nonRetryableErrors: [""] }), invalid("steps[0].retry_policy.non_retryable_errors[0]"));
  add(
    "non_retryable_errors[10] of 65 characters",
    policy({ nonRetryableErrors: [...Array.from({ length: 10 }, (_, i) => `E${i}`), chars(65)] }),
    invalid("steps[0].retry_policy.non_retryable_errors[10]"),
  );
  add("bad retry policy at index 10", withSteps(() => chain(11, (s, i) => (i === 10 ? { ...s, retryPolicy: { jitter: 2 } } : s))), invalid("steps[10].retry_policy.jitter"));
  return cases;
}
