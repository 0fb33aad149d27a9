import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { ComponentChildren } from "preact";
import { FailurePolicy, StepStatus, type Saga } from "../../gen/saga/v1/saga_pb.js";
import { CopyButton } from "../components/copy-button.js";
import { StatusBadge } from "../components/status-badge.js";
import { sagaIsResting, sagaStatusLook } from "../model/status.js";
import { PATHS } from "../paths.js";
import type { Connection } from "./use-live-saga.js";
import "./saga.css";

/**
 * Who the saga is and where it stands: name, id (copyable), status, the definition it runs,
 * times, RetrySaga budget and its error, with the saga-level actions (passed in as `actions`).
 */
export function SagaHeader(props: { saga: Saga; connection: Connection; now: number; actions?: ComponentChildren }) {
  const { saga, connection, now, actions } = props;
  const counts = stepCounts(saga);
  return (
    <header class="saga-head">
      <div class="saga-title">
        <h1>{saga.name}</h1>
        <span data-testid="saga-status">
          <StatusBadge look={sagaStatusLook(saga.status)} />
        </span>
        <ConnectionNote connection={connection} resting={sagaIsResting(saga.status)} />
        <div class="saga-actions">{actions}</div>
      </div>
      <dl class="saga-facts">
        <Fact term="ID">
          <code class="saga-id">{saga.id}</code> <CopyButton text={saga.id} what="saga id" />
        </Fact>
        <Fact term="Definition">
          <DefinitionLink saga={saga} />
        </Fact>
        <Fact term="Steps">
          {counts.done}/{saga.steps.length} done
          {counts.failed > 0 && <span class="fact-bad"> · {counts.failed} failed</span>}
          {counts.running > 0 && <span> · {counts.running} running</span>}
          {counts.undone > 0 && <span> · {counts.undone} compensated</span>}
        </Fact>
        <Fact term="Retries">
          <span title="RetrySaga calls used / allowed">
            {saga.retryCount}/{saga.maxRetries}
          </span>
        </Fact>
        <Fact term="On failure">{saga.failurePolicy === FailurePolicy.COMPENSATE ? "compensate" : "hold for an operator"}</Fact>
        <Fact term="Created">
          <When ms={saga.createTime ? timestampMs(saga.createTime) : undefined} now={now} />
        </Fact>
        <Fact term="Updated">
          <When ms={saga.updateTime ? timestampMs(saga.updateTime) : undefined} now={now} />
        </Fact>
        {saga.completeTime && (
          <Fact term="Finished">
            <When ms={timestampMs(saga.completeTime)} now={now} />
          </Fact>
        )}
      </dl>
      {saga.error && (
        <p class="saga-error" role="status">
          <strong>Error</strong> {saga.error}
        </p>
      )}
    </header>
  );
}

function Fact(props: { term: string; children: ComponentChildren }) {
  return (
    <div class="fact">
      <dt>{props.term}</dt>
      <dd>{props.children}</dd>
    </div>
  );
}

function DefinitionLink(props: { saga: Saga }) {
  const { saga } = props;
  if (saga.definitionName) {
    return (
      <a href={PATHS.definition(saga.definitionName)}>
        {saga.definitionName}@{saga.definitionVersion}
      </a>
    );
  }
  if (saga.definition) return <span title="A free-form label given at CreateSaga">{saga.definition}</span>;
  return <span class="muted">none (steps given at CreateSaga)</span>;
}

/**
 * Whether the watch is connected. A resting saga still has an open stream (a retry or rollback
 * from elsewhere shows up at once), so it says "up to date" rather than "live".
 */
function ConnectionNote(props: { connection: Connection; resting: boolean }) {
  if (props.connection === "live") {
    return (
      <span
        class="conn conn-live"
        data-testid="connection"
        title={props.resting ? "Watching: a retry or rollback started elsewhere appears here at once" : "Receiving events from WatchSaga as they happen"}
      >
        {props.resting ? "up to date" : "live"}
      </span>
    );
  }
  return (
    <span class="conn conn-wait" role="status" data-testid="connection">
      {props.connection === "connecting" ? "connecting…" : "reconnecting…"}
    </span>
  );
}

/** A time as the operator's local clock shows it, with how long ago. */
export function When(props: { ms: number | undefined; now: number }) {
  const { ms, now } = props;
  if (ms === undefined || ms === 0) return <span class="muted">—</span>;
  const date = new Date(ms);
  return (
    <time dateTime={date.toISOString()} title={date.toISOString()}>
      {date.toLocaleString()} <span class="muted">({relative(ms - now)})</span>
    </time>
  );
}

/** "3 s ago", "in 2 min": coarse on purpose, it is read at a glance. */
export function relative(deltaMs: number): string {
  const abs = Math.abs(deltaMs);
  const text =
    abs < 1000 ? "now" : abs < 60_000 ? `${Math.round(abs / 1000)} s` : abs < 3_600_000 ? `${Math.round(abs / 60_000)} min` : abs < 86_400_000 ? `${Math.round(abs / 3_600_000)} h` : `${Math.round(abs / 86_400_000)} d`;
  if (text === "now") return "just now";
  return deltaMs < 0 ? `${text} ago` : `in ${text}`;
}

function stepCounts(saga: Saga): { done: number; failed: number; running: number; undone: number } {
  let undone = 0;
  let done = 0;
  let failed = 0;
  let running = 0;
  for (const step of saga.steps) {
    if (step.status === StepStatus.COMPLETED || step.status === StepStatus.SKIPPED) done++;
    else if (step.status === StepStatus.FAILED || step.status === StepStatus.COMPENSATION_FAILED) failed++;
    else if (step.status === StepStatus.RUNNING || step.status === StepStatus.COMPENSATING) running++;
    else if (step.status === StepStatus.COMPENSATED) undone++;
  }
  return { done, failed, running, undone };
}
