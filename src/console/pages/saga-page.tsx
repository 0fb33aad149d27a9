import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { useRoute } from "preact-iso";
import { SagaStatus } from "../../gen/saga/v1/saga_pb.js";
import { dagStepsFromSaga } from "../model/dag-model.js";
import { compensationOrder, stepRounds } from "../model/saga-live.js";
import { sagaIsResting } from "../model/status.js";
import { PATHS } from "../paths.js";
import { DagView } from "../saga/dag-view.js";
import { DefinitionPanel } from "../saga/definition-panel.js";
import { EventHistory } from "../saga/event-history.js";
import { SagaActions } from "../saga/saga-actions.js";
import { SagaHeader } from "../saga/saga-header.js";
import { StepDrawer } from "../saga/step-drawer.js";
import { TimelineView } from "../saga/timeline-view.js";
import { useLiveSaga } from "../saga/use-live-saga.js";
import { allows, useSession } from "../session/session.js";
import "../saga/saga.css";

const TABS = ["Graph", "Timeline", "History", "Definition"] as const;
type Tab = (typeof TABS)[number];

/** One saga, live: header and actions, then its graph, timeline, history and definition. */
export function SagaPage() {
  const { params } = useRoute();
  const id = params.id ?? "";
  const session = useSession();
  const live = useLiveSaga(id);
  const [tab, setTab] = useState<Tab>("Graph");
  const [selected, setSelected] = useState<string | undefined>();
  const now = useClock(live.saga !== undefined && !sagaIsResting(live.saga.status));

  const order = useMemo(() => compensationOrder(live.events), [live.events]);
  // Round starts for "attempt n/m": one pass over the history per batch of events, not per frame.
  const rounds = useMemo(() => stepRounds(live.events), [live.events]);
  const dagSteps = useMemo(() => (live.saga ? dagStepsFromSaga(live.saga, order, rounds) : []), [live.saga, order, rounds]);

  // Closing the drawer gives focus back to the node that opened it (the drawer takes it on open).
  const graphRef = useRef<HTMLDivElement>(null);
  const returnFocusTo = useRef<string | undefined>(undefined);
  const closeDrawer = () => {
    returnFocusTo.current = selected;
    setSelected(undefined);
  };
  useEffect(() => {
    const name = returnFocusTo.current;
    if (selected !== undefined || name === undefined) return;
    returnFocusTo.current = undefined;
    const node = graphRef.current?.querySelector<SVGElement>(`[data-step="${CSS.escape(name)}"]`);
    if (!node) return; // hidden meanwhile ("Hide completed"), or another tab
    node.focus();
  }, [selected]);

  if (live.notFound) {
    return (
      <section class="saga-missing">
        <h1>No such saga</h1>
        <p>
          There is no saga with the id <code>{id}</code>: it may never have existed, or it was deleted.
        </p>
        <p>
          <a href={PATHS.sagas}>Back to the sagas</a>
        </p>
      </section>
    );
  }
  if (live.problem) {
    return (
      <section>
        <h1>Saga</h1>
        <div class="problem" role="alert">
          <strong>{live.problem.title}</strong> {live.problem.message}
          {live.problem.requiredScope && <p>This page needs a token with the scope {live.problem.requiredScope}.</p>}
        </div>
      </section>
    );
  }
  const saga = live.saga;
  if (!saga) {
    return (
      <section>
        <p class="muted" role="status">
          Loading saga <code>{id}</code>…
        </p>
      </section>
    );
  }

  const step = selected ? saga.steps.find((s) => s.name === selected) : undefined;
  const readOnly = !allows(session.scopes, "sagas:execute");
  return (
    <section class="saga-page">
      <SagaHeader saga={saga} connection={live.connection} now={now} actions={<SagaActions saga={saga} />} />
      {readOnly && (
        <p class="read-only-note" data-testid="read-only-note">
          Read-only: this token ({session.tokenName}) has no <code>sagas:execute</code> scope, so it can watch this saga but
          not retry, skip, roll back or cancel.
        </p>
      )}
      <div class="tabs" role="tablist" aria-label="Saga views">
        {TABS.map((t) => (
          <button
            key={t}
            type="button"
            role="tab"
            id={`tab-${t}`}
            aria-selected={tab === t}
            aria-controls={`panel-${t}`}
            class={tab === t ? "tab current" : "tab"}
            onClick={() => setTab(t)}
          >
            {t}
            {t === "History" && <span class="tab-count">{live.events.length}</span>}
          </button>
        ))}
      </div>
      <div class="tab-panel" role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
        {tab === "Graph" && (
          <div class={step ? "graph-pane with-drawer" : "graph-pane"}>
            <div class="graph-main" ref={graphRef}>
              <DagView steps={dagSteps} selected={selected} onSelect={(name) => (name === selected ? closeDrawer() : setSelected(name))} />
              <Legend compensating={saga.status === SagaStatus.COMPENSATING || saga.status === SagaStatus.CANCELLING} />
            </div>
            {step && (
              <StepDrawer saga={saga} step={step} events={live.events} round={rounds.get(step.name)} now={now} onClose={closeDrawer} />
            )}
          </div>
        )}
        {tab === "Timeline" && <TimelineView saga={saga} events={live.events} now={now} />}
        {tab === "History" && <EventHistory events={live.events} saga={saga} />}
        {tab === "Definition" && <DefinitionPanel saga={saga} />}
      </div>
    </section>
  );
}

/** The tones, once, so colour is explained where it is used. */
function Legend(props: { compensating: boolean }) {
  const items: [string, string][] = [
    ["idle", "pending"],
    ["active", "running"],
    ["waiting", "retry scheduled"],
    ["done", "completed"],
    ["failed", "failed"],
    ["skipped", "skipped"],
    ["undoing", "compensating (↺ undo #n: order)"],
    ["undone", "compensated"],
    ["stopped", "cancelled"],
  ];
  return (
    <p class={`legend${props.compensating ? " legend-undo" : ""}`}>
      {items.map(([tone, text]) => (
        <span key={tone}>
          <span class={`dot tone-${tone}`} aria-hidden="true" /> {text}
        </span>
      ))}
      <span class="muted">Click a step for details.</span>
    </p>
  );
}

/** The current time, ticking each second while the saga moves (running bars and "in 3 s" grow). */
function useClock(ticking: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    setNow(Date.now());
    if (!ticking) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [ticking]);
  return now;
}
