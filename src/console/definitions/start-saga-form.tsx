import { Code } from "@connectrpc/connect";
import { useMemo, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { DefinitionState, type Definition } from "../../gen/saga/v1/definition_pb.js";
import { fieldMessages, toProblem, type Problem } from "../api/problem.js";
import { parseLabels } from "../model/saga-filters.js";
import { serverPathsOf, unplacedPaths, varFields, varsFromValues, type VarField } from "../model/vars-form.js";
import { PATHS } from "../paths.js";
import { allows, useSession } from "../session/session.js";

/** The form's own controls besides the vars, by the CreateSaga field their server errors name. */
const EXTRA = ["name", "labels", "request_id"] as const;
type Extra = (typeof EXTRA)[number];

/**
 * "Start a saga" from one definition version (CreateSaga with a definition_ref, as `sagad saga
 * create --def` does), with one control per declared var. The form catches what it can see at
 * once (a missing required var, text for a number); the server checks the vars against the schema,
 * and each field error it names is shown at that var's control. A token without sagas:execute, or
 * a DISABLED version, gets the form disabled with the reason.
 */
export function StartSagaForm(props: { definition: Definition; state: DefinitionState }) {
  const { definition, state } = props;
  const session = useSession();
  const location = useLocation();
  const defName = definition.spec?.name ?? "";
  const fields = useMemo(() => varFields(definition.spec?.varsSchema), [definition]);
  const [values, setValues] = useState<Record<string, string>>({});
  const [extra, setExtra] = useState<Record<Extra, string>>({ name: "", labels: "", request_id: "" });
  const [local, setLocal] = useState<ReadonlyMap<string, string>>(new Map());
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const canExecute = allows(session.scopes, "sagas:execute");
  const disabled = state === DefinitionState.DISABLED;

  async function submit(event: Event) {
    event.preventDefault();
    const { vars, errors } = varsFromValues(fields, values);
    const found = new Map<string, string>([...errors].map(([key, message]) => [`vars.${key}`, message]));
    const labels = parseLabels(extra.labels);
    if (typeof labels === "string") found.set("labels", labels);
    setLocal(found);
    setProblem(null);
    if (found.size > 0) return;
    setBusy(true);
    try {
      const { saga } = await session.clients.sagas.createSaga({
        definitionRef: { name: defName, version: definition.version },
        vars,
        labels: labels as Record<string, string>,
        name: extra.name.trim(),
        requestId: extra.request_id.trim(),
      });
      location.route(PATHS.saga(saga!.id));
    } catch (err) {
      const p = toProblem(err);
      if (p.code === Code.Unauthenticated) return session.signOut("Your token is no longer accepted (revoked?). Sign in again.");
      setProblem(p);
    } finally {
      setBusy(false);
    }
  }

  const serverAt = (paths: readonly string[]) => paths.flatMap((p) => fieldMessages(problem ?? undefined, p));
  const placed = [...fields.flatMap((f) => serverPathsOf(f.key)), ...EXTRA];
  const leftover = problem ? unplacedPaths(problem.fields.keys(), placed) : [];
  const reused = problem?.code === Code.AlreadyExists ? [problem.message] : [];

  return (
    <form class="start-form panel" onSubmit={submit} aria-label="Start a saga" novalidate>
      <h2>Start a saga</h2>
      <p class="muted small">
        From <code>{defName}</code> version {definition.version}.{fields.length > 0 && " An empty field takes the schema's default."}
      </p>
      {!canExecute && (
        <p class="note" data-testid="read-only-note">
          This token has no <code>sagas:execute</code> scope: it can read definitions but not start sagas. Sign in with a token
          that has it (or admin).
        </p>
      )}
      {disabled && (
        <p class="note" data-testid="disabled-note">
          Version {definition.version} is DISABLED: sagad refuses to start sagas from it. Pick another version, or set this one
          active again (<code>sagad def activate {defName}@{definition.version}</code>).
        </p>
      )}
      {state === DefinitionState.DEPRECATED && !disabled && (
        <p class="note">Version {definition.version} is DEPRECATED: sagas still start from it, but a newer version is meant to replace it.</p>
      )}
      <fieldset disabled={!canExecute || disabled || busy}>
        {fields.length === 0 && <p class="muted">This version declares no vars.</p>}
        {fields.map((field) => (
          <VarInput
            key={field.key}
            field={field}
            value={values[field.key] ?? ""}
            onInput={(v) => setValues({ ...values, [field.key]: v })}
            errors={[...(local.has(field.control) ? [local.get(field.control)!] : []), ...serverAt(serverPathsOf(field.key))]}
          />
        ))}
        <details class="more-options" open={EXTRA.some((k) => serverAt([k]).length > 0 || local.has(k)) || reused.length > 0 || undefined}>
          <summary>Name, labels and request id</summary>
          <TextField name="name" label="Saga name" hint={`Optional; default ${defName}.`} value={extra.name} placeholder={defName}
            onInput={(v) => setExtra({ ...extra, name: v })} errors={serverAt(["name"])} />
          <TextField name="labels" label="Labels" hint="KEY=VALUE pairs, comma-separated, for filtering the saga list." value={extra.labels}
            placeholder="team=shop, ticket=4711" onInput={(v) => setExtra({ ...extra, labels: v })}
            errors={[...(local.has("labels") ? [local.get("labels")!] : []), ...serverAt(["labels"])]} />
          <TextField name="request_id" label="Request id" hint="Optional idempotency key: the same id with the same form returns the saga started first."
            value={extra.request_id} placeholder="e.g. order-A-1001" onInput={(v) => setExtra({ ...extra, request_id: v })}
            errors={[...serverAt(["request_id"]), ...reused]} />
        </details>
      </fieldset>
      {problem && problem.code !== Code.AlreadyExists && (problem.fields.size === 0 || leftover.length > 0) && (
        <div class="problem" role="alert">
          <strong>{problem.title}</strong> {problem.message}
          {problem.requiredScope && <span> (this needs a token with {problem.requiredScope})</span>}
          {leftover.length > 0 && (
            <ul>
              {leftover.map((path) => (
                <li key={path}>
                  <code>{path}</code>: {problem.fields.get(path)?.join("; ")}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      <button
        type="submit"
        class="primary"
        disabled={busy || !canExecute || disabled}
        title={!canExecute ? "This token lacks sagas:execute" : disabled ? "This version is DISABLED" : undefined}
      >
        {busy ? "Starting…" : "Start saga"}
      </button>
    </form>
  );
}

function VarInput(props: { field: VarField; value: string; onInput: (value: string) => void; errors: readonly string[] }) {
  const { field, value, onInput, errors } = props;
  const id = `var-${field.key}`;
  const hint = [field.description, ...field.constraints].filter(Boolean).join(" · ");
  const invalid = errors.length > 0 || undefined;
  return (
    <div class="var-field">
      <label for={id}>
        <code>{field.key}</code>
        {field.required && field.defaultText === undefined && <span class="required-tag">required</span>}
        <span class="muted small">{field.title ?? field.kind}</span>
      </label>
      {field.options ? (
        <select id={id} name={field.control} value={value} aria-invalid={invalid} onChange={(e) => onInput(e.currentTarget.value)}>
          <option value="">{field.defaultText !== undefined ? `default (${field.defaultText})` : "choose…"}</option>
          {field.options.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      ) : field.kind === "json" ? (
        <input id={id} name={field.control} value={field.defaultText ?? ""} disabled title="sagad takes vars as text; this var takes its default" />
      ) : (
        <input
          id={id}
          name={field.control}
          value={value}
          spellcheck={false}
          autocomplete="off"
          inputMode={field.kind === "integer" ? "numeric" : field.kind === "number" ? "decimal" : undefined}
          placeholder={field.defaultText !== undefined ? `default: ${field.defaultText}` : ""}
          aria-invalid={invalid}
          onInput={(e) => onInput(e.currentTarget.value)}
        />
      )}
      {hint && <div class="muted small">{hint}</div>}
      {errors.length > 0 && (
        <div class="field-error" data-field-error={field.control}>
          {errors.join("; ")}
        </div>
      )}
    </div>
  );
}

function TextField(props: {
  name: Extra;
  label: string;
  hint: string;
  value: string;
  placeholder: string;
  onInput: (value: string) => void;
  errors: readonly string[];
}) {
  const id = `start-${props.name}`;
  return (
    <div class="var-field">
      <label for={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        value={props.value}
        placeholder={props.placeholder}
        spellcheck={false}
        autocomplete="off"
        aria-invalid={props.errors.length > 0 || undefined}
        onInput={(e) => props.onInput(e.currentTarget.value)}
      />
      <div class="muted small">{props.hint}</div>
      {props.errors.length > 0 && (
        <div class="field-error" data-field-error={props.name}>
          {props.errors.join("; ")}
        </div>
      )}
    </div>
  );
}
