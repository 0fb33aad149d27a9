import { SagaStatus, StepStatus, type Saga, type Step } from "../client/index.js";
import type { CliContext } from "./context.js";
import { colorStatus, formatDuration, formatRelative, formatTime, sagaStatusName, stepStatusName, toDate } from "./format.js";
import { renderTable } from "./output.js";

const RESTING = new Set([SagaStatus.COMPLETED, SagaStatus.FAILED, SagaStatus.COMPENSATED, SagaStatus.COMPENSATION_FAILED, SagaStatus.CANCELLED]);

/** A saga at rest waits for nothing but an operator; a watch ends there. */
export function isResting(status: SagaStatus): boolean {
  return RESTING.has(status);
}

const STEP_FAILED = new Set([StepStatus.FAILED, StepStatus.COMPENSATION_FAILED]);
const STEP_MOVING = new Set([StepStatus.RUNNING, StepStatus.COMPENSATING, StepStatus.RETRY_SCHEDULED]);

/** Whether a step is doing something now (a spinner goes beside it in the live view). */
export function isMoving(step: Step): boolean {
  return STEP_MOVING.has(step.status);
}

/** The step an operator must look at first: failed for good, else the first one still moving. */
export function failingStep(saga: Saga): Step | undefined {
  return saga.steps.find((s) => STEP_FAILED.has(s.status)) ?? saga.steps.find((s) => s.error !== "" && isMoving(s));
}

/** Whether the step's counts and action are its compensation's (compensating, or failed doing so). */
function compensating(step: Step): boolean {
  return step.status === StepStatus.COMPENSATING || step.status === StepStatus.COMPENSATION_FAILED;
}

/**
 * `2/3`: attempts started out of those the retry policy allows (the compensation's while it
 * compensates; `2` when it allows any number). Operator retries start new attempts on top of the
 * used ones, so a count past the policy's reads `4 (max 3)` rather than a puzzling `4/3`.
 */
export function attemptText(step: Step): string {
  const max = (compensating(step) ? step.compensate?.retryPolicy?.maxAttempts : step.retryPolicy?.maxAttempts) ?? 0;
  if (max <= 0) return String(step.retryCount);
  return step.retryCount <= max ? `${step.retryCount}/${max}` : `${step.retryCount} (max ${max})`;
}

/** The action the step runs now: its compensation's while it compensates. */
function currentAction(step: Step): string {
  return compensating(step) && step.compensate ? `${step.compensate.action} (compensation)` : step.action;
}

/** How long a step took, or has taken so far. */
export function stepElapsed(step: Step, now: number): string {
  const start = toDate(step.startTime)?.getTime();
  if (start === undefined) return "";
  const end = toDate(step.completeTime)?.getTime() ?? (isMoving(step) ? now : undefined);
  return end === undefined ? "" : formatDuration(end - start);
}

/** Compensation states read as such, so nobody mistakes an undo for progress. */
function stepStatusText(ctx: CliContext, step: Step): string {
  const name = stepStatusName(step.status);
  const label = step.status === StepStatus.COMPENSATING || step.status === StepStatus.COMPENSATED || step.status === StepStatus.COMPENSATION_FAILED
    ? `↩ ${name}`
    : name;
  return colorStatus(ctx, label);
}

/** The step table of `saga get` and of the live watch (`marker` puts a spinner in front). */
export function stepTable(ctx: CliContext, saga: Saga, now: number, marker: (step: Step) => string = () => ""): string {
  return renderTable(["", "STEP", "ACTION", "STATUS", "ATTEMPT", "DURATION", "NEXT ATTEMPT"], saga.steps.map((step) => [
    marker(step),
    step.name,
    step.action,
    stepStatusText(ctx, step),
    attemptText(step),
    stepElapsed(step, now),
    step.status === StepStatus.RETRY_SCHEDULED ? formatRelative(step.nextAttemptTime, now) : "",
  ]));
}

/**
 * `saga get`: what is wrong comes first (status, the failing step and its last error), then the
 * steps. An operator paged at night reads the top three lines and knows what to do.
 */
export function describeSaga(ctx: CliContext, saga: Saga, now = Date.now()): string {
  const lines = [`Saga:       ${saga.id}  ${saga.name}`, `Status:     ${colorStatus(ctx, sagaStatusName(saga.status))}`];
  const failing = failingStep(saga);
  if (failing !== undefined) {
    // A step that still moves is being retried, not failing for good.
    const label = STEP_FAILED.has(failing.status) ? "Failing:  " : "Retrying: ";
    lines.push(`${label}  ${failing.name} (${currentAction(failing)}, attempt ${attemptText(failing)})`);
    lines.push(`Error:      ${ctx.colors.red(failing.error || saga.error)}${failing.errorKind ? ` [${failing.errorKind}]` : ""}`);
  } else if (saga.error !== "") {
    lines.push(`Error:      ${ctx.colors.red(saga.error)}`);
  }
  if (saga.definitionName !== "") lines.push(`Definition: ${saga.definitionName}@${saga.definitionVersion}`);
  const labels = Object.entries(saga.labels).map(([k, v]) => `${k}=${v}`).join(", ");
  if (labels !== "") lines.push(`Labels:     ${labels}`);
  lines.push(`Created:    ${formatTime(saga.createTime)}${saga.completeTime ? `   rested ${formatTime(saga.completeTime)}` : ""}`);
  lines.push(`Retries:    ${saga.retryCount}/${saga.maxRetries} RetrySaga calls used   events: ${saga.sequence}`);
  return `${lines.join("\n")}\n\n${stepTable(ctx, saga, now)}`;
}

/**
 * `saga list` rows (and the bulk operations' preview). ListSagas sends sagas without their steps,
 * so there is no steps-done column: it read 0/0 for every saga. `saga get` has the steps.
 */
export function sagaRows(ctx: CliContext, sagas: readonly Saga[]): string {
  return renderTable(["ID", "NAME", "STATUS", "DEFINITION", "CREATED", "CURRENT STEP"], sagas.map((s) => [
    s.id,
    s.name,
    colorStatus(ctx, sagaStatusName(s.status)),
    s.definitionName === "" ? "-" : `${s.definitionName}@${s.definitionVersion}`,
    formatTime(s.createTime),
    s.currentStep,
  ]));
}

/** The last line of a watch: how it ended and how long it took. */
/**
 * How long the saga has run: from its creation to its resting state, or to `now` while it moves.
 * Measured on the saga's own timestamps, so a watch attached late still reports the whole run.
 */
export function sagaElapsedMs(saga: Saga, now: number): number {
  const created = toDate(saga.createTime)?.getTime();
  if (created === undefined) return 0;
  const end = isResting(saga.status) ? (toDate(saga.completeTime) ?? toDate(saga.updateTime))?.getTime() ?? now : now;
  return Math.max(0, end - created);
}

export function summaryLine(ctx: CliContext, saga: Saga): string {
  const done = saga.steps.filter((s) => s.status === StepStatus.COMPLETED || s.status === StepStatus.SKIPPED).length;
  const failing = failingStep(saga);
  const tail = failing !== undefined && saga.status !== SagaStatus.COMPLETED ? `; ${failing.name}: ${failing.error || saga.error}` : "";
  return `saga ${saga.id} ${colorStatus(ctx, sagaStatusName(saga.status))} in ${formatDuration(sagaElapsedMs(saga, Date.now()))} (${done}/${saga.steps.length} steps done)${tail}`;
}
