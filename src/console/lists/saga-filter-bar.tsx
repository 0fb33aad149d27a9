import { useEffect, useState } from "preact/hooks";
import { SagaStatus } from "../../gen/saga/v1/saga_pb.js";
import { FILTER_KEYS, FILTERABLE_STATUSES, hasFilters, NO_FILTERS, parseStatus, type FilterKey, type SagaFilters } from "../model/saga-filters.js";

const LABELS: Record<FilterKey, string> = {
  status: "Status",
  name: "Name",
  definition: "Definition",
  labels: "Labels",
  since: "Created since",
  until: "Created before",
};

const PLACEHOLDERS: Record<FilterKey, string> = {
  status: "",
  name: "exact saga name",
  definition: "name or name@3",
  labels: "team=shop, env=prod",
  since: "1h, 2d or 2026-12-01",
  until: "30m or 2026-12-02",
};

/** Durations the time filters suggest; any other duration or a date and time works too. */
const TIME_PRESETS = ["15m", "1h", "6h", "24h", "7d", "30d"];

/**
 * The list's filters, exactly the ones ListSagas has. The status applies as soon as it is picked;
 * text filters apply with Enter or Apply, so half-typed text never becomes a request. Each
 * control is named as its URL query key, and a filter the page cannot read says why below it.
 */
export function SagaFilterBar(props: {
  applied: SagaFilters;
  errors: ReadonlyMap<FilterKey, string>;
  definitionNames: readonly string[];
  onApply: (filters: SagaFilters) => void;
}) {
  const { applied, errors, onApply } = props;
  const [draft, setDraft] = useState<SagaFilters>(applied);
  const appliedKey = FILTER_KEYS.map((k) => applied[k]).join("\n");
  // Back/forward and links change the applied filters; the controls follow them.
  useEffect(() => setDraft(applied), [appliedKey]);
  const changed = FILTER_KEYS.some((k) => draft[k].trim() !== applied[k]);

  const submit = (event: Event) => {
    event.preventDefault();
    onApply(trimmed(draft));
  };

  return (
    <form class="filters" onSubmit={submit} aria-label="Filters">
      {FILTER_KEYS.map((key) => (
        <label key={key} class={`filter filter-${key}`}>
          <span>{LABELS[key]}</span>
          {key === "status" ? (
            <select
              name="status"
              value={statusOption(draft.status)}
              onChange={(e) => {
                const status = e.currentTarget.value;
                setDraft({ ...draft, status });
                // Only the status applies at once; text still being typed waits for Enter or Apply.
                onApply({ ...applied, status });
              }}
            >
              <option value="">Any status</option>
              {FILTERABLE_STATUSES.map((s) => (
                <option key={s} value={SagaStatus[s]}>
                  {SagaStatus[s]}
                </option>
              ))}
            </select>
          ) : (
            <input
              name={key}
              value={draft[key]}
              placeholder={PLACEHOLDERS[key]}
              spellcheck={false}
              autocomplete="off"
              list={key === "definition" ? "definition-names" : key === "since" || key === "until" ? "time-presets" : undefined}
              aria-invalid={errors.has(key) || undefined}
              onInput={(e) => setDraft({ ...draft, [key]: e.currentTarget.value })}
            />
          )}
          {errors.get(key) && (
            <span class="field-error" data-field-error={key}>
              {errors.get(key)}
            </span>
          )}
        </label>
      ))}
      <div class="filter-buttons">
        <button type="submit" class={changed ? "primary" : ""}>
          Apply
        </button>
        {(hasFilters(applied) || changed) && (
          <button type="button" class="link" onClick={() => onApply(NO_FILTERS)}>
            Clear
          </button>
        )}
      </div>
      <datalist id="definition-names">
        {props.definitionNames.map((name) => (
          <option key={name} value={name} />
        ))}
      </datalist>
      <datalist id="time-presets">
        {TIME_PRESETS.map((p) => (
          <option key={p} value={p} />
        ))}
      </datalist>
    </form>
  );
}

function trimmed(filters: SagaFilters): SagaFilters {
  return Object.fromEntries(FILTER_KEYS.map((k) => [k, filters[k].trim()])) as Record<FilterKey, string>;
}

/** The option a status from the URL selects: `failed` or `SAGA_STATUS_FAILED` pick FAILED. */
function statusOption(text: string): string {
  const status = parseStatus(text);
  return status === undefined ? text : SagaStatus[status];
}
