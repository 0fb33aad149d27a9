import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useRef } from "preact/hooks";
import { StepStatus, TaskState, type Saga, type SagaEvent, type Step } from "../../gen/saga/v1/saga_pb.js";
import { CopyButton } from "../components/copy-button.js";
import { StatusBadge } from "../components/status-badge.js";
import { clockText, durationText } from "../model/duration-text.js";
import { roundAttempt, roundAttemptText } from "../model/dag-model.js";
import type { StepRound } from "../model/saga-live.js";
import { stepStatusLook } from "../model/status.js";
import { idempotencyKeyOf, stepAttempts, type AttemptRow } from "../model/step-attempts.js";
import { When } from "./saga-header.js";
import { StepActions } from "./saga-actions.js";
import "./saga.css";

/**
 * Everything about one step: status, error and kind, config, output, each attempt from the
 * history, the next attempt's time, the idempotency keys, the worker task, and its compensation,
 * with the step actions (Retry step, Skip step).
 */
export function StepDrawer(props: {
  saga: Saga;
  step: Step;
  events: readonly SagaEvent[];
  /** Where the step's current round of attempts started (saga-live.ts `stepRounds`). */
  round?: StepRound | undefined;
  now: number;
  onClose: () => void;
}) {
  const { saga, step, events, round, now, onClose } = props;
  const attempts = useMemo(() => stepAttempts(events, step.name), [events, step.name]);
  const look = stepStatusLook(step.status);
  const attempt = roundAttempt(step, round);
  // Opening the drawer (or switching it to another step) moves focus into it, so keyboard and
  // screen-reader users land on what they opened; the page returns focus to the node on close.
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [step.name]);
  return (
    <aside
      class="drawer"
      data-testid="step-drawer"
      aria-label={`Step ${step.name}`}
      onKeyDown={(e) => {
        if (e.key === "Escape") {
          e.preventDefault();
          onClose();
        }
      }}
    >
      <div class="drawer-head">
        <h2 ref={heading} tabIndex={-1}>
          {step.name}
        </h2>
        <StatusBadge look={look} />
        <button type="button" class="drawer-close" onClick={onClose} aria-label="Close step details">
          ×
        </button>
      </div>
      <div class="drawer-actions">
        <StepActions saga={saga} step={step} />
      </div>
      <dl class="kv">
        <Row term="Action">
          <code>{step.action}</code>
        </Row>
        <Row term="Attempt">
          {roundAttemptText(attempt)}
          {attempt.compensation && <span class="muted"> (compensation)</span>}
        </Row>
        {step.dependsOn.length > 0 && <Row term="Depends on">{step.dependsOn.join(", ")}</Row>}
        {step.status === StepStatus.RETRY_SCHEDULED || step.nextAttemptTime ? (
          <Row term="Next attempt">
            <When ms={step.nextAttemptTime ? timestampMs(step.nextAttemptTime) : undefined} now={now} />
          </Row>
        ) : null}
        <Row term="Started">
          <When ms={step.startTime ? timestampMs(step.startTime) : undefined} now={now} />
        </Row>
        {step.completeTime && (
          <Row term="Finished">
            <When ms={timestampMs(step.completeTime)} now={now} />
          </Row>
        )}
        <Row term="Idempotency key">
          <code class="wrap">{idempotencyKeyOf(saga.id, step.name, "action")}</code>{" "}
          <CopyButton text={idempotencyKeyOf(saga.id, step.name, "action")} what="idempotency key" />
        </Row>
      </dl>

      {step.error && (
        <section class="drawer-error" aria-label="Last error">
          <h3>
            Error{step.errorKind && <span class="kind">{step.errorKind}</span>}
          </h3>
          <pre>{step.error}</pre>
        </section>
      )}

      <WorkerTask step={step} />

      <h3>Config</h3>
      <Json value={step.config} empty="No config." />
      <h3>Output</h3>
      <Json value={step.output} empty={outputMissing(step.status)} />

      <h3>Attempts</h3>
      <Attempts rows={attempts} now={now} />

      <h3>Compensation</h3>
      <Compensation saga={saga} step={step} />
    </aside>
  );
}

function Row(props: { term: string; children: ComponentChildren }) {
  return (
    <>
      <dt>{props.term}</dt>
      <dd>{props.children}</dd>
    </>
  );
}

/** JSON, pretty-printed, as text: outputs are untrusted and are never parsed as markup. */
function Json(props: { value: unknown; empty: string }) {
  if (props.value === undefined || props.value === null) return <p class="muted">{props.empty}</p>;
  return <pre class="json">{JSON.stringify(props.value, null, 2)}</pre>;
}

function outputMissing(status: StepStatus): string {
  if (status === StepStatus.PENDING || status === StepStatus.RUNNING || status === StepStatus.RETRY_SCHEDULED) return "No output yet.";
  return status === StepStatus.FAILED || status === StepStatus.CANCELLED ? "No output: the step did not complete." : "No output.";
}

function WorkerTask(props: { step: Step }) {
  const { step } = props;
  if (step.taskState === TaskState.UNSPECIFIED && !step.worker && step.taskRequeues === 0) return null;
  return (
    <section aria-label="Worker task">
      <h3>Worker task</h3>
      <dl class="kv">
        <Row term="Task state">{step.taskState === TaskState.UNSPECIFIED ? "none" : TaskState[step.taskState]}</Row>
        <Row term="Worker">{step.worker ? <code class="wrap">{step.worker}</code> : <span class="muted">none yet</span>}</Row>
        <Row term="Requeues">{step.taskRequeues}</Row>
      </dl>
    </section>
  );
}

function Attempts(props: { rows: readonly AttemptRow[]; now: number }) {
  const { rows, now } = props;
  if (rows.length === 0) return <p class="muted">No attempt yet.</p>;
  return (
    <table class="attempts">
      <thead>
        <tr>
          <th>#</th>
          <th>Started</th>
          <th>Took</th>
          <th>Outcome</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={`${row.phase}-${row.attempt}-${row.startMs}`} class={row.phase === "compensation" ? "attempt-undo" : undefined}>
            <td>
              {row.phase === "compensation" && <span title="Compensation attempt">↺ </span>}
              {row.attempt}
            </td>
            <td>
              <time dateTime={new Date(row.startMs).toISOString()}>{clockText(row.startMs)}</time>
            </td>
            <td>{durationText((row.endMs ?? now) - row.startMs)}</td>
            <td>
              <span class={`dot tone-${row.tone}`} aria-hidden="true" /> {row.outcome}
              {row.recovered && <span class="muted"> (taken over by another replica)</span>}
              {row.errorKind && <span class="kind">{row.errorKind}</span>}
              {row.error && <div class="attempt-error">{row.error}</div>}
              {row.nextAttemptMs !== undefined && (
                <div class="muted">next attempt at {clockText(row.nextAttemptMs)}</div>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Compensation(props: { saga: Saga; step: Step }) {
  const { saga, step } = props;
  const comp = step.compensate;
  if (!comp?.action) return <p class="muted">None: this step is not undone on rollback.</p>;
  return (
    <>
      <dl class="kv">
        <Row term="Action">
          <code>{comp.action}</code>
        </Row>
        <Row term="Status">{compensationState(step.status)}</Row>
        <Row term="Attempts allowed">{comp.retryPolicy?.maxAttempts || "default"}</Row>
        <Row term="Idempotency key">
          <code class="wrap">{idempotencyKeyOf(saga.id, step.name, "compensation")}</code>
        </Row>
      </dl>
      <Json value={comp.config} empty="No config." />
    </>
  );
}

function compensationState(status: StepStatus): string {
  switch (status) {
    case StepStatus.COMPENSATING:
      return "running";
    case StepStatus.COMPENSATED:
      return "done";
    case StepStatus.COMPENSATION_FAILED:
      return "failed";
    case StepStatus.COMPLETED:
      return "not run (runs if the saga is rolled back)";
    default:
      return "not run (only a completed step is compensated)";
  }
}
