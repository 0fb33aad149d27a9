import { useMemo, useState } from "preact/hooks";
import type { Saga, SagaEvent } from "../../gen/saga/v1/saga_pb.js";
import { clockText } from "../model/duration-text.js";
import { attemptBudgets, EventDescriber, type EventLine } from "../model/event-lines.js";
import "./history.css";

/** Lines drawn at first; "Show earlier" adds this many more. Keeps a busy saga's page light. */
const PAGE = 200;

/**
 * A saga's history as readable lines, newest last (or first), with "Failures only" and a step
 * filter. Only the latest {@link PAGE} matching lines are drawn until the operator asks for
 * more, so a saga with thousands of events (and a hundred new ones a second) stays responsive.
 * `saga` is optional; with it, attempts read "2/3" against the steps' retry budgets.
 */
export function EventHistory(props: { events: readonly SagaEvent[]; saga?: Saga }) {
  const { events, saga } = props;
  const [failuresOnly, setFailuresOnly] = useState(false);
  const [newestFirst, setNewestFirst] = useState(false);
  const [step, setStep] = useState("");
  const [limit, setLimit] = useState(PAGE);

  const budgetKey = saga ? saga.steps.map((s) => `${s.name}:${s.retryPolicy?.maxAttempts}:${s.compensate?.retryPolicy?.maxAttempts}`).join(",") : "";
  // Keyed on the budgets themselves: the saga object changes with every event, its budgets hardly ever.
  const budgets = useMemo(() => attemptBudgets(saga?.steps ?? []), [budgetKey]);
  const describer = useMemo(() => new EventDescriber(), []);
  const lines = useMemo(() => describer.describe(events, budgets), [describer, events, budgets]);
  const stepNames = useMemo(() => [...new Set(lines.map((l) => l.step).filter((s) => s !== ""))].sort(), [lines]);
  const shown = useMemo(() => lines.filter((l) => (!failuresOnly || l.failure) && (step === "" || l.step === step)), [lines, failuresOnly, step]);

  const hidden = Math.max(0, shown.length - limit);
  const visible = shown.slice(hidden);
  if (newestFirst) visible.reverse();
  const failures = useMemo(() => lines.reduce((n, l) => n + (l.failure ? 1 : 0), 0), [lines]);

  const more = hidden > 0 && (
    <button type="button" class="history-more" onClick={() => setLimit(limit + PAGE)}>
      Show {Math.min(PAGE, hidden)} earlier {Math.min(PAGE, hidden) === 1 ? "event" : "events"}
      {hidden > PAGE && ` (${hidden} not shown)`}
    </button>
  );

  return (
    <section class="history" data-testid="event-history" aria-label="Event history">
      <div class="history-tools">
        <label>
          <input type="checkbox" checked={failuresOnly} onChange={(e) => setFailuresOnly(e.currentTarget.checked)} />
          Failures only{failures > 0 && <span class="history-count"> ({failures})</span>}
        </label>
        <label>
          Step{" "}
          <select value={step} onChange={(e) => setStep(e.currentTarget.value)}>
            <option value="">all steps</option>
            {stepNames.map((name) => (
              <option value={name} key={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
        <label>
          <input type="checkbox" checked={newestFirst} onChange={(e) => setNewestFirst(e.currentTarget.checked)} />
          Newest first
        </label>
        <span class="muted history-total">
          {shown.length === lines.length ? `${lines.length} events` : `${shown.length} of ${lines.length} events`}
        </span>
      </div>
      {!newestFirst && more}
      {visible.length === 0 ? (
        <p class="muted history-empty">{lines.length === 0 ? "No events yet." : "No event matches."}</p>
      ) : (
        <ol class="history-lines">
          {visible.map((line) => (
            <HistoryLine line={line} key={line.sequence} />
          ))}
        </ol>
      )}
      {newestFirst && more}
    </section>
  );
}

function HistoryLine(props: { line: EventLine }) {
  const { line } = props;
  const when = line.timeMs === undefined ? "" : clockText(line.timeMs);
  return (
    <li data-event-type={line.type} data-sequence={line.sequence} class={`history-line${line.failure ? " history-failure" : ""}`}>
      <span class="history-seq">#{line.sequence}</span>
      <time class="history-time" dateTime={line.timeMs === undefined ? undefined : new Date(line.timeMs).toISOString()} title={line.timeMs === undefined ? undefined : new Date(line.timeMs).toISOString()}>
        {when}
      </time>
      <span class={`history-icon icon-${line.tone}`} aria-hidden="true">
        {line.icon}
      </span>
      <div class="history-body">
        <span class="history-text">{line.text}</span>
        {line.errorKind && <code class={`history-kind${line.failure ? " history-kind-failure" : ""}`}>{line.errorKind}</code>}
        {line.detail && <div class="history-detail mono">{line.detail}</div>}
        {(line.by || line.reason) && (
          <div class="history-who">
            {line.by && <span>by {line.by}</span>}
            {line.reason && <q class="history-reason">{line.reason}</q>}
          </div>
        )}
      </div>
    </li>
  );
}
