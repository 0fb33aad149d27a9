/**
 * RegisterDefinition validation: everything CreateSaga checks of a saga (DAG, names, templates,
 * retry policies, sizes), plus the vars schema, with the same field paths (`steps[12].depends_on[0]`,
 * `vars_schema.properties.count.type`), relative to the spec. Templates may read only declared vars.
 */
import { findTemplateRefs } from "./templates.js";
import type { FailurePolicy, JsonObject, StepSpec } from "./types.js";
import type { ValidationLimits } from "./validate-saga.js";
import { checkFailurePolicy, checkLabels, checkMaxChars, checkMaxRetries, checkSagaName, DEFAULT_MAX_RETRIES } from "./validate-fields.js";
import { declaredVars, validateSteps, type RawStepSpec } from "./validate-steps.js";
import { compileVarsSchema, NO_VARS, type VarsSchema } from "./vars-schema.js";
import { utf8Length } from "./text-size.js";
import { Violations } from "./violations.js";

/** A DefinitionSpec as read from protobuf; `failurePolicy` as in RawCreateSaga. */
export interface RawDefinitionSpec {
  name: string;
  description: string;
  labels: Record<string, string>;
  failurePolicy: string;
  maxRetries: number;
  varsSchema: JsonObject | null;
  steps: RawStepSpec[];
}

/** A definition version ready to start sagas from: defaults applied, schema compiled. */
export interface CompiledDefinition {
  name: string;
  labels: Record<string, string>;
  failurePolicy: FailurePolicy;
  maxRetries: number;
  vars: VarsSchema;
  steps: StepSpec[];
  /** Each var some template reads, with the first field path that reads it (for "give it" messages). */
  varsRead: ReadonlyMap<string, string>;
}

const MAX_DESCRIPTION_CHARS = 2000;

/** @throws DomainError INVALID_ARGUMENT listing every violation, as CreateSaga does. */
export function validateDefinitionSpec(
  raw: RawDefinitionSpec,
  limits: ValidationLimits,
  acceptsAction: (name: string) => boolean,
): CompiledDefinition {
  const report = new Violations();
  checkSagaName(raw.name, "name", report);
  checkMaxChars(raw.description, "description", MAX_DESCRIPTION_CHARS, report);
  checkLabels(raw.labels, "labels", report);
  const failurePolicy = checkFailurePolicy(raw.failurePolicy, "HOLD", report);
  const maxRetries = checkMaxRetries(raw.maxRetries, DEFAULT_MAX_RETRIES, report);

  let vars: VarsSchema | null = NO_VARS;
  if (raw.varsSchema !== null) {
    const bytes = utf8Length(JSON.stringify(raw.varsSchema));
    if (bytes > limits.maxConfigBytes) {
      report.add("vars_schema", `is ${bytes} bytes as JSON; at most ${limits.maxConfigBytes} are allowed`);
      vars = null;
    } else vars = compileVarsSchema(raw.varsSchema, "vars_schema", report);
  }

  let steps: StepSpec[] = [];
  if (raw.steps.length === 0) report.add("steps", "at least one step is required");
  else if (raw.steps.length > limits.maxSteps) {
    report.add("steps", `has ${raw.steps.length} steps; at most ${limits.maxSteps} are allowed`);
  } else {
    // With a broken schema, which vars exist is unknown: check the steps but not their var names.
    const rule = vars === null ? () => null : declaredVars(vars.declared);
    steps = validateSteps(raw.steps, rule, limits, acceptsAction, report);
  }
  report.throwIfAny();
  return { name: raw.name, labels: { ...raw.labels }, failurePolicy, maxRetries, vars: vars ?? NO_VARS, steps, varsRead: varsRead(steps) };
}

function varsRead(steps: StepSpec[]): Map<string, string> {
  const read = new Map<string, string>();
  steps.forEach((step, i) => {
    const configs: [JsonObject, string][] = [[step.config, `steps[${i}].config`]];
    if (step.compensate) configs.push([step.compensate.config, `steps[${i}].compensate.config`]);
    for (const [config, root] of configs) {
      for (const ref of findTemplateRefs(config, root)) {
        if (ref.kind === "vars" && !read.has(ref.name)) read.set(ref.name, ref.jsonPath);
      }
    }
  });
  return read;
}
