import { useId, useMemo } from "preact/hooks";
import { parseJsonObject, prettyJson } from "../model/json-text.js";
import { FieldErrors } from "./field-errors.js";

/**
 * A textarea for a JSON object (a step's config, a stand-in output), checked as the operator
 * types: a syntax error is shown at once, with its line and column, and the caller keeps the
 * confirm button off until the text parses. The server still judges the content; its messages for
 * this field come in `serverErrors` and are shown in the same place.
 */
export function JsonEditor(props: {
  /** The form control's name, and the server's field path for it ("output", "config"). */
  name: string;
  label: string;
  value: string;
  onChange: (text: string) => void;
  serverErrors?: readonly string[];
  hint?: string;
  disabled?: boolean;
}) {
  const { name, label, value, onChange, serverErrors = [], hint, disabled } = props;
  const id = useId();
  const parsed = useMemo(() => parseJsonObject(value), [value]);
  const syntax = parsed.ok ? [] : [`${label} ${parsed.message}`];
  const errorsId = `${id}-errors`;
  const invalid = syntax.length > 0 || serverErrors.length > 0;
  const rows = Math.min(18, Math.max(4, value.split("\n").length + 1));
  return (
    <div class="json-editor">
      <div class="json-editor-head">
        <label for={id}>{label}</label>
        <button
          type="button"
          class="link"
          disabled={disabled || !parsed.ok}
          onClick={() => parsed.ok && onChange(prettyJson(parsed.value))}
          title="Indent the JSON"
        >
          Format
        </button>
      </div>
      <textarea
        id={id}
        name={name}
        rows={rows}
        spellcheck={false}
        autocomplete="off"
        value={value}
        disabled={disabled}
        aria-invalid={invalid}
        aria-describedby={invalid ? errorsId : undefined}
        onInput={(e) => onChange(e.currentTarget.value)}
      />
      {hint && <p class="hint json-editor-hint">{hint}</p>}
      <div id={errorsId}>
        {syntax.length > 0 && (
          <ul class="field-errors" data-json-error={name}>
            <li class="field-error">{syntax[0]}</li>
          </ul>
        )}
        <FieldErrors field={name} messages={serverErrors} />
      </div>
    </div>
  );
}
