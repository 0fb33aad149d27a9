/**
 * The steps of a CreateSaga request: names, actions, dependencies (with cycle detection), retry
 * policies and configs, each problem under `steps[i]...`. validate-saga.ts owns the request as a
 * whole and calls in here.
 */
import { DEFAULT_COMPENSATION_RETRY_POLICY, DEFAULT_RETRY_POLICY } from "./backoff.js";
import { topologicalOrder, upstreamIndex, type DagNode, type UpstreamIndex } from "./dag.js";
import { indexPath } from "./field-path.js";
import { ACTION_NAME_RULE, STEP_NAME_PATTERN } from "./names.js";
import type { JsonObject, StepSpec } from "./types.js";
import { checkConfig, type ConfigLimits, type RefCheck } from "./validate-config.js";
import { validateRetryPolicy, type RawRetryPolicy } from "./validate-retry-policy.js";
import type { Violations } from "./violations.js";

/** A StepSpec as read from protobuf. A null config means unset ({}); a null policy, the default. */
export interface RawStepSpec {
  name: string;
  action: string;
  config: JsonObject | null;
  dependsOn: string[];
  compensate: { action: string; config: JsonObject | null; retryPolicy: RawRetryPolicy | null } | null;
  retryPolicy: RawRetryPolicy | null;
}

/**
 * The steps with defaults applied; problems are recorded under `steps[i]...`. The returned specs
 * are only meaningful if no violation was recorded.
 */
export function validateSteps(
  rawSteps: RawStepSpec[],
  vars: VarRule,
  limits: ConfigLimits,
  acceptsAction: (name: string) => boolean,
  report: Violations,
): StepSpec[] {
  const firstIndex = new Map<string, number>();
  for (const [i, step] of rawSteps.entries()) {
    const at = indexPath("steps", i);
    const earlier = firstIndex.get(step.name);
    if (step.name === "") report.add(`${at}.name`, "is required");
    else if (!STEP_NAME_PATTERN.test(step.name)) {
      report.add(`${at}.name`, "must be 1 to 64 of [A-Za-z0-9_-], starting with a letter or digit");
    } else if (earlier !== undefined) {
      report.add(`${at}.name`, `duplicate step name ${JSON.stringify(step.name)}; steps[${earlier}] already has it`);
    }
    if (earlier === undefined && step.name !== "") firstIndex.set(step.name, i);
  }

  const specs: StepSpec[] = [];
  const graph: DagNode[] = [];
  for (const [i, step] of rawSteps.entries()) {
    if (report.full) break;
    const at = indexPath("steps", i);
    checkAction(step.action, `${at}.action`, acceptsAction, report);
    const dependsOn = checkDependsOn(step, at, firstIndex, report);
    if (firstIndex.get(step.name) === i) graph.push({ name: step.name, dependsOn });
    if (step.compensate) checkAction(step.compensate.action, `${at}.compensate.action`, acceptsAction, report);
    specs.push({
      name: step.name,
      action: step.action,
      config: step.config ?? {},
      dependsOn: [...step.dependsOn],
      compensate: step.compensate && {
        action: step.compensate.action,
        config: step.compensate.config ?? {},
        retryPolicy: validateRetryPolicy(
          step.compensate.retryPolicy,
          DEFAULT_COMPENSATION_RETRY_POLICY,
          `${at}.compensate.retry_policy`,
          report,
        ),
      },
      retryPolicy: validateRetryPolicy(step.retryPolicy, DEFAULT_RETRY_POLICY, `${at}.retry_policy`, report),
    });
  }

  const sorted = topologicalOrder(graph);
  if ("cycle" in sorted) {
    const at = indexPath("steps", firstIndex.get(sorted.cycle[0]!)!);
    report.add(`${at}.depends_on`, `dependency cycle: ${sorted.cycle.join(" -> ")}`);
  }
  checkStepConfigs(specs, vars, limits, firstIndex, upstreamIndex(graph), report);
  return specs;
}

/**
 * Templates may read a step only if it is upstream; a compensation may also read its own step. With
 * a cycle (already reported) or under a duplicate name, "upstream" is undefined, so only the
 * step's existence is checked.
 */
function checkStepConfigs(
  specs: StepSpec[],
  vars: VarRule,
  limits: ConfigLimits,
  firstIndex: Map<string, number>,
  upstream: UpstreamIndex | null,
  report: Violations,
): void {
  const names = new Set(firstIndex.keys());
  for (const [i, spec] of specs.entries()) {
    if (report.full) return;
    const at = indexPath("steps", i);
    const definite = upstream !== null && firstIndex.get(spec.name) === i;
    const isUpstream = (x: string) => !definite || upstream.isUpstream(x, spec.name);
    checkConfig(spec.config, `${at}.config`, limits, refCheck(vars, names, spec.name, isUpstream), report);
    if (spec.compensate) {
      const ownOrUpstream = (x: string) => x === spec.name || isUpstream(x);
      const check = refCheck(vars, names, spec.name, ownOrUpstream);
      checkConfig(spec.compensate.config, `${at}.compensate.config`, limits, check, report);
    }
  }
}

/** Why a template may not read var `name`, or null if it may. */
export type VarRule = (name: string) => string | null;

/** An inline saga's templates read the vars it was given. */
export function givenVars(vars: Record<string, string>): VarRule {
  return (name) => (Object.hasOwn(vars, name) ? null : `unknown var ${JSON.stringify(name)}; vars has no such key`);
}

/** A definition's templates read the vars its schema declares, whether or not a saga gives them. */
export function declaredVars(declared: ReadonlySet<string>): VarRule {
  return (name) => (declared.has(name) ? null : `unknown var ${JSON.stringify(name)}; vars_schema.properties does not declare it`);
}

/** The template rule: vars must pass `vars`; a step must exist and be `readable` (upstream) from `self`. */
export function refCheck(vars: VarRule, names: Set<string>, self: string, readable: (step: string) => boolean): RefCheck {
  return (ref) => {
    if (ref.kind === "vars") return vars(ref.name);
    const step = JSON.stringify(ref.step);
    if (!names.has(ref.step)) return `reads step ${step}, which does not exist`;
    if (readable(ref.step)) return null;
    const fix = `add ${step} to depends_on (directly or through another step)`;
    return `reads step ${step}, which is not upstream of step ${JSON.stringify(self)}; ${fix}`;
  };
}

function checkAction(action: string, field: string, acceptsAction: (name: string) => boolean, report: Violations): void {
  if (action === "") report.add(field, "is required");
  else if (!acceptsAction(action)) {
    report.add(field, `unknown action ${JSON.stringify(action)}; ${ACTION_NAME_RULE}`);
  }
}

/** Records bad entries; returns the entries usable as graph edges (existing, not self, first mention). */
function checkDependsOn(step: RawStepSpec, at: string, firstIndex: Map<string, number>, report: Violations): string[] {
  const seen = new Map<string, number>();
  const edges: string[] = [];
  for (const [j, dep] of step.dependsOn.entries()) {
    const field = indexPath(`${at}.depends_on`, j);
    const earlier = seen.get(dep);
    const name = JSON.stringify(dep);
    if (dep === "") report.add(field, "must name a step; got an empty string");
    else if (earlier !== undefined) report.add(field, `duplicate dependency ${name}; depends_on[${earlier}] already names it`);
    else if (dep === step.name) report.add(field, "a step cannot depend on itself");
    else if (!firstIndex.has(dep)) report.add(field, `unknown step ${name}; no step has that name`);
    else edges.push(dep);
    if (earlier === undefined) seen.set(dep, j);
  }
  return edges;
}

