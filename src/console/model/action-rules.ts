import { SagaStatus, StepStatus, type Saga, type Step } from "../../gen/saga/v1/saga_pb.js";
import { sagaStatusLook, stepStatusLook } from "./status.js";

export type SagaAction = "retrySaga" | "rollback" | "cancel";
export type StepAction = "retryStep" | "skipStep";

/** Whether the API would accept an action now, and if not, why not in words. */
export type Availability = { readonly ok: true } | { readonly ok: false; readonly why: string };

/**
 * The saga statuses each operation applies in: the server's table (OPERATION_ALLOWED_IN in
 * src/domain/transitions.ts, the README's "States"). A button is on only where the server would
 * accept the call; the server still decides, since the saga may move between the click and the call.
 */
const SAGA_STATUSES: Record<SagaAction | StepAction, readonly SagaStatus[]> = {
  retrySaga: [SagaStatus.FAILED],
  rollback: [SagaStatus.FAILED, SagaStatus.COMPENSATION_FAILED],
  cancel: [SagaStatus.PENDING, SagaStatus.RUNNING, SagaStatus.FAILED],
  retryStep: [SagaStatus.FAILED],
  skipStep: [SagaStatus.PENDING, SagaStatus.RUNNING, SagaStatus.FAILED],
};

/** The step statuses of STEP_OPERATION_ALLOWED_IN. */
const STEP_STATUSES: Record<StepAction, readonly StepStatus[]> = {
  retryStep: [StepStatus.FAILED],
  skipStep: [StepStatus.FAILED, StepStatus.PENDING, StepStatus.RETRY_SCHEDULED],
};

const VERB: Record<SagaAction | StepAction, string> = {
  retrySaga: "Retry saga",
  rollback: "Roll back",
  cancel: "Cancel saga",
  retryStep: "Retry step",
  skipStep: "Skip step",
};

const sagaLabel = (s: SagaStatus) => sagaStatusLook(s).label;
const stepLabel = (s: StepStatus) => stepStatusLook(s).label;

function sagaAllows(saga: Saga, action: SagaAction | StepAction): Availability {
  const allowed = SAGA_STATUSES[action];
  if (allowed.includes(saga.status)) return { ok: true };
  return { ok: false, why: `${VERB[action]} applies to a ${allowed.map(sagaLabel).join(" or ")} saga; this one is ${sagaLabel(saga.status)}.` };
}

export function sagaActionAvailability(saga: Saga, action: SagaAction): Availability {
  const byStatus = sagaAllows(saga, action);
  if (!byStatus.ok) return byStatus;
  if (action === "retrySaga" && saga.retryCount >= saga.maxRetries) {
    return { ok: false, why: `The saga has used ${saga.retryCount} of its ${saga.maxRetries} retries.` };
  }
  return byStatus;
}

export function stepActionAvailability(saga: Saga, step: Step, action: StepAction): Availability {
  const allowed = STEP_STATUSES[action];
  if (!allowed.includes(step.status)) {
    return { ok: false, why: `${VERB[action]} applies to a ${allowed.map(stepLabel).join(", ")} step; ${step.name} is ${stepLabel(step.status)}.` };
  }
  return sagaAllows(saga, action);
}

const names = (steps: readonly Step[]) => steps.map((s) => s.name).join(", ");
const withStatus = (saga: Saga, ...statuses: StepStatus[]) => saga.steps.filter((s) => statuses.includes(s.status));

/**
 * What an action will do to this saga, in sentences for its confirmation dialog: which steps it
 * touches and how the saga ends up, from the README's rules. The names are the saga's own, so
 * the operator confirms this saga's consequences, not a generic warning.
 */
export function sagaActionEffects(saga: Saga, action: SagaAction): string[] {
  const compensable = undoOrder(saga).filter((s) => s.status === StepStatus.COMPLETED && s.compensate);
  const undo =
    compensable.length > 0
      ? `The completed steps with a compensation are compensated, each after the steps that depend on it: ${names(compensable)}.`
      : "No completed step has a compensation, so there is nothing to undo.";
  const kept = withStatus(saga, StepStatus.COMPLETED).filter((s) => !s.compensate);
  const notUndone = kept.length ? [`Completed steps without a compensation stay as they are: ${names(kept)}.`] : [];
  switch (action) {
    case "retrySaga": {
      const failed = withStatus(saga, StepStatus.FAILED);
      return [
        `Resumes the saga from its failed ${failed.length === 1 ? "step" : "steps"}${failed.length ? `: ${names(failed)}` : ""}, each with a fresh budget of attempts. Completed steps do not run again.`,
        `This is retry ${saga.retryCount + 1} of the ${saga.maxRetries} the saga allows.`,
      ];
    }
    case "rollback": {
      if (saga.status === SagaStatus.COMPENSATION_FAILED) {
        const failed = withStatus(saga, StepStatus.COMPENSATION_FAILED);
        return [
          `Retries the compensations that failed for good${failed.length ? `: ${names(failed)}` : ""}, with a new round of attempts; the compensations still left follow in order.`,
          "The saga ends COMPENSATED, or COMPENSATION_FAILED again if a compensation fails for good.",
        ];
      }
      return [
        "Stops going forward and undoes what was done.",
        undo,
        ...notUndone,
        "Failed, skipped and pending steps are not compensated. The saga ends COMPENSATED, or COMPENSATION_FAILED if a compensation fails for good.",
      ];
    }
    case "cancel": {
      const running = withStatus(saga, StepStatus.RUNNING);
      const scheduled = withStatus(saga, StepStatus.RETRY_SCHEDULED);
      return [
        "No new step starts.",
        ...(running.length ? [`The running ${running.length === 1 ? "step gets" : "steps get"} the abort signal: ${names(running)}.`] : []),
        ...(scheduled.length ? [`Scheduled retries are abandoned: ${names(scheduled)}.`] : []),
        undo,
        ...notUndone,
        "The saga ends CANCELLED (or COMPENSATION_FAILED if a compensation fails for good). This cannot be undone.",
      ];
    }
  }
}

/**
 * The steps in the order compensation reaches them: the reverse of a topological order, so a step
 * comes after everything downstream of it (independent branches really run in parallel).
 */
export function undoOrder(saga: Saga): Step[] {
  const byName = new Map(saga.steps.map((s) => [s.name, s]));
  const placed = new Set<string>();
  const order: Step[] = [];
  const visit = (step: Step) => {
    if (placed.has(step.name)) return;
    placed.add(step.name);
    for (const dep of step.dependsOn) {
      const upstream = byName.get(dep);
      if (upstream) visit(upstream);
    }
    order.push(step);
  };
  saga.steps.forEach(visit);
  return order.reverse();
}

/** The steps that depend on `step` directly: the ones that read a skipped step's stand-in output. */
export function dependentsOf(saga: Saga, step: string): Step[] {
  return saga.steps.filter((s) => s.dependsOn.includes(step));
}

/** As {@link sagaActionEffects}, for an action on one step. */
export function stepActionEffects(saga: Saga, step: Step, action: StepAction): string[] {
  const dependents = dependentsOf(saga, step.name);
  const otherFailed = saga.steps.filter((s) => s.status === StepStatus.FAILED && s.name !== step.name);
  switch (action) {
    case "retryStep":
      return [
        `Runs step ${step.name} again now (attempt ${step.retryCount + 1}), with a fresh budget of ${step.retryPolicy?.maxAttempts ?? "its"} attempts, and the saga goes back to RUNNING.`,
        "The config below replaces the step's whole config, and is checked like CreateSaga's. Leave it as it is to run the same config again.",
      ];
    case "skipStep":
      return [
        `Marks step ${step.name} SKIPPED without running it${step.status === StepStatus.RETRY_SCHEDULED ? " (its scheduled retry is dropped)" : ""}.`,
        dependents.length
          ? `Its dependents (${names(dependents)}) read the stand-in output below as steps.${step.name}.output.`
          : "No step depends on it; the stand-in output below is kept as its output.",
        ...(saga.status === SagaStatus.FAILED
          ? [otherFailed.length ? `The saga stays FAILED: ${names(otherFailed)} failed too.` : "The saga resumes (RUNNING)."]
          : []),
      ];
  }
}
