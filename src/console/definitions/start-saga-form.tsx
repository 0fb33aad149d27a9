import { useMemo, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import type { Definition } from "../../gen/saga/v1/definition_pb.js";
import { DefinitionState } from "../../gen/saga/v1/definition_pb.js";
import { fieldMessages, toProblem, type Problem } from "../api/problem.js";
import { serverPathsOf, unplacedPaths, varFields, varsFromValues, type VarField } from "../model/vars-form.js";
import { PATHS } from "../paths.js";
import { allows, useSession } from "../session/session.js";

/**
 * "Start a saga" from one definition version, with one control per declared var. The form catches
 * what it can see at once; the server checks the vars against the schema and its field errors are
 * shown at the var they name.
 */
export function StartSagaForm(props: { definition: Definition }) {
  const { definition } = props;
  const session = useSession();
  const location = useLocation();
  const fields = useMemo(() => varFields(definition.spec?.varsSchema), [definition]);
  const [values, setValues] = useState<Record<string, string>>({});
  const [local, setLocal] = useState<Map<string, string>>(new Map());
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const canStart = allows(session.scopes, "sagas:execute");
  const disabled = definition.state === DefinitionState.DISABLED;

  async function submit(event: Event) {
    event.preventDefault();
    const { vars, errors } = varsFromValues(fields, values);
    setLocal(errors);
    setProblem(null);
    if (errors.size > 0) return;
    setBusy(true);
    try {
      const name = definition.spec?.name ?? "";
      const { saga } = await session.clients.sagas.createSaga({ definitionRef: { name, version: definition.version }, vars });
      location.route(PATHS.saga(saga!.id));
    } catch (err) {
      setProblem(toProblem(err));
    } finally {
      setBusy(false);
    }
  }

  const placed = fields.flatMap((f) => serverPathsOf(f.key));
  const leftover = problem ? unplacedPaths(problem.fields.keys(), placed) : [];
  return (
    <form class="start-form" onSubmit={submit} aria-label="Start a saga">
      <h2>Start a saga from version {definition.version}</h2>
      {!canStart && (
        <p class="note" data-testid="read-only-note">
          This token has no sagas:execute scope, so it cannot start sagas.
        </p>
      )}
      {disabled && <p class="note">This version is DISABLED: sagad refuses to start sagas from it.</p>}
      {fields.length === 0 && <p class="muted">This definition declares no vars.</p>}
      {fields.map((field) => (
        <VarInput
          key={field.key}
          field={field}
          value={values[field.key] ?? ""}
          onInput={(v) => setValues({ ...values, [field.key]: v })}
          errors={[...(local.get(field.key) ? [local.get(field.key)!] : []), ...serverPathsOf(field.key).flatMap((p) => fieldMessages(problem ?? undefined, p))]}
        />
      ))}
      {problem && (problem.fields.size === 0 || leftover.length > 0) && (
        <div class="problem" role="alert">
          <strong>{problem.title}</strong> {problem.message}
          {problem.requiredScope && <span> (needs {problem.requiredScope})</span>}
        </div>
      )}
      <button type="submit" class="primary" disabled={busy || !canStart} title={canStart ? undefined : "This token lacks sagas:execute"}>
        {busy ? "Starting…" : "Start saga"}
      </button>
    </form>
  );
}

function VarInput(props: { field: VarField; value: string; onInput: (value: string) => void; errors: readonly string[] }) {
  const { field, value, onInput, errors } = props;
  const id = `var-${field.key}`;
  return (
    <div class="var-field">
      <label for={id}>
        <code>{field.key}</code>
        {field.required && field.defaultText === undefined && <span class="required"> required</span>}
        {field.title && <span class="muted"> {field.title}</span>}
      </label>
      {field.options ? (
        <select id={id} name={field.control} value={value} onChange={(e) => onInput(e.currentTarget.value)}>
          <option value="">{field.defaultText !== undefined ? `default: ${field.defaultText}` : "choose…"}</option>
          {field.options.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      ) : (
        <input
          id={id}
          name={field.control}
          value={value}
          inputMode={field.kind === "integer" || field.kind === "number" ? "decimal" : undefined}
          placeholder={field.defaultText !== undefined ? `default: ${field.defaultText}` : field.kind}
          onInput={(e) => onInput(e.currentTarget.value)}
        />
      )}
      {(field.description || field.constraints.length > 0) && (
        <div class="muted small">{[field.description, ...field.constraints].filter(Boolean).join(" · ")}</div>
      )}
      {errors.length > 0 && (
        <div class="field-error" data-field-error={field.control}>
          {errors.join("; ")}
        </div>
      )}
    </div>
  );
}
