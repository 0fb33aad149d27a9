import type { JsonValue } from "@bufbuild/protobuf";
import { useState } from "preact/hooks";
import type { Saga, Step } from "../../gen/saga/v1/saga_pb.js";
import { ActionDialog, type Confirmed, type DialogEditor } from "../components/action-dialog.js";
import {
  sagaActionAvailability,
  sagaActionEffects,
  stepActionAvailability,
  stepActionEffects,
  type Availability,
  type SagaAction,
  type StepAction,
} from "../model/action-rules.js";
import { prettyJson, sameJson } from "../model/json-text.js";
import { allows, useSession, type Session } from "../session/session.js";
import "./history.css";

/** How each action looks and what it sends; the page updates itself from WatchSaga afterwards. */
interface ActionSpec {
  readonly label: string;
  readonly title: string;
  readonly confirmLabel: string;
  readonly danger?: boolean;
  readonly reason: "required" | "optional";
  readonly editor?: DialogEditor;
  readonly effects: string[];
  readonly availability: Availability;
  readonly send: (input: Confirmed) => Promise<unknown>;
}

/**
 * The saga's own actions: Retry saga, Roll back, Cancel saga. Each is always shown, and on only
 * in the statuses the API accepts (the button's title says why not otherwise); each asks for
 * confirmation. Undoing work (roll back, cancel) needs a reason; retrying does not.
 */
export function SagaActions(props: { saga: Saga }) {
  const { saga } = props;
  const session = useSession();
  const sagas = session.clients.sagas;
  const specs: Record<SagaAction, ActionSpec> = {
    retrySaga: {
      label: "Retry saga",
      title: `Retry saga ${saga.name}`,
      confirmLabel: "Confirm retry",
      reason: "optional",
      effects: sagaActionEffects(saga, "retrySaga"),
      availability: sagaActionAvailability(saga, "retrySaga"),
      send: ({ reason }) => sagas.retrySaga({ id: saga.id, reason }),
    },
    rollback: {
      label: "Roll back",
      title: `Roll back saga ${saga.name}`,
      confirmLabel: "Confirm rollback",
      danger: true,
      reason: "required",
      effects: sagaActionEffects(saga, "rollback"),
      availability: sagaActionAvailability(saga, "rollback"),
      send: ({ reason }) => sagas.rollbackSaga({ id: saga.id, reason }),
    },
    cancel: {
      label: "Cancel saga",
      title: `Cancel saga ${saga.name}`,
      confirmLabel: "Confirm cancel",
      danger: true,
      reason: "required",
      effects: sagaActionEffects(saga, "cancel"),
      availability: sagaActionAvailability(saga, "cancel"),
      send: ({ reason }) => sagas.cancelSaga({ id: saga.id, reason }),
    },
  };
  return <ActionBar specs={Object.values(specs)} session={session} label="Saga actions" />;
}

/**
 * A step's actions, for the step drawer: Retry step (with its config in an editor, sent only if
 * changed, since the server then replaces the whole config) and Skip step (with a stand-in output,
 * `{}` unless the operator writes one).
 */
export function StepActions(props: { saga: Saga; step: Step }) {
  const { saga, step } = props;
  const session = useSession();
  const sagas = session.clients.sagas;
  const original: JsonValue = step.config ?? {};
  const specs: Record<StepAction, ActionSpec> = {
    retryStep: {
      label: "Retry step",
      title: `Retry step ${step.name}`,
      confirmLabel: "Confirm retry step",
      reason: "optional",
      editor: { name: "config", label: "Config", initial: prettyJson(original), hint: "Templates such as {{vars.NAME}} are allowed, as in CreateSaga." },
      effects: stepActionEffects(saga, step, "retryStep"),
      availability: stepActionAvailability(saga, step, "retryStep"),
      send: ({ reason, json }) =>
        sagas.retryStep({ id: saga.id, step: step.name, reason, ...(json && !sameJson(json, original) ? { config: json } : {}) }),
    },
    skipStep: {
      label: "Skip step",
      title: `Skip step ${step.name}`,
      confirmLabel: "Confirm skip",
      reason: "optional",
      editor: { name: "output", label: "Stand-in output", initial: "{}" },
      effects: stepActionEffects(saga, step, "skipStep"),
      availability: stepActionAvailability(saga, step, "skipStep"),
      send: ({ reason, json }) => sagas.skipStep({ id: saga.id, step: step.name, reason, output: json ?? {} }),
    },
  };
  return <ActionBar specs={Object.values(specs)} session={session} label={`Actions on step ${step.name}`} />;
}

function ActionBar(props: { specs: readonly ActionSpec[]; session: Session; label: string }) {
  const { specs, session } = props;
  const [open, setOpen] = useState<ActionSpec["label"] | undefined>();
  const canExecute = allows(session.scopes, "sagas:execute");
  const current = specs.find((s) => s.label === open);
  // A disabled button cannot take focus, so its title is out of reach by keyboard, touch and
  // screen reader: the reasons are also written out (the read-only note covers a missing scope).
  const unavailable = canExecute ? specs.flatMap((s) => (s.availability.ok ? [] : [{ label: s.label, why: s.availability.why }])) : [];
  return (
    <div class="action-bar" role="group" aria-label={props.label}>
      {specs.map((spec) => {
        const why = !canExecute
          ? `The token ${session.tokenName} lacks the sagas:execute scope: it can look, not act.`
          : spec.availability.ok
            ? undefined
            : spec.availability.why;
        return (
          <button
            type="button"
            key={spec.label}
            class={spec.danger ? "action-danger" : undefined}
            disabled={why !== undefined}
            title={why}
            onClick={() => setOpen(spec.label)}
          >
            {spec.label}
          </button>
        );
      })}
      {unavailable.length > 0 && (
        <details class="action-why">
          <summary>{unavailable.length === specs.length ? "Why these are unavailable" : `Why ${unavailable.map((u) => u.label).join(", ")} ${unavailable.length === 1 ? "is" : "are"} unavailable`}</summary>
          <ul>
            {unavailable.map((u) => (
              <li key={u.label}>
                <strong>{u.label}</strong>: {u.why}
              </li>
            ))}
          </ul>
        </details>
      )}
      {current && (
        <ActionDialog
          title={current.title}
          confirmLabel={current.confirmLabel}
          danger={current.danger}
          reason={current.reason}
          editor={current.editor}
          onConfirm={current.send}
          onClose={() => setOpen(undefined)}
        >
          {current.effects.map((sentence, i) => (
            <p key={i}>{sentence}</p>
          ))}
        </ActionDialog>
      )}
    </div>
  );
}
