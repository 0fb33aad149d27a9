import { Code } from "@connectrpc/connect";
import { useEffect, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { SagaStatus, type Saga } from "../../gen/saga/v1/saga_pb.js";
import { toProblem, type Problem } from "../api/problem.js";
import { StatusBadge } from "../components/status-badge.js";
import { Ago } from "../lists/ago.js";
import {
  FILTER_KEYS,
  FILTERABLE_STATUSES,
  hasFilters,
  listRequest,
  newerView,
  olderView,
  queryFromView,
  viewFromQuery,
  withFilters,
  type FilterKey,
  type SagaFilters,
} from "../model/saga-filters.js";
import { sagaStatusLook } from "../model/status.js";
import { PATHS } from "../paths.js";
import { CopyButton } from "../saga/saga-header.js";
import { useSession } from "../session/session.js";
import "../lists/lists.css";

/** Browsers speak HTTP/1.1 to sagad (six connections per origin), so the list polls instead of streaming per row. */
const REFRESH_MS = 2000;

const PLACEHOLDERS: Record<FilterKey, string> = {
  status: "",
  name: "exact saga name",
  definition: "name or name@version",
  labels: "team=payments,env=prod",
  since: "1h, 2d or 2026-12-01",
  until: "30m or 2026-12-02T10:00",
};

/**
 * Newest sagas first. The filters and the cursor pages live in the URL (shareable, back/forward
 * work); the rows on screen are re-read every two seconds while the tab is visible.
 */
export function SagasPage() {
  const { clients, signOut } = useSession();
  const location = useLocation();
  const view = viewFromQuery(location.query);
  const viewKey = queryFromView(view);
  const [draft, setDraft] = useState<SagaFilters>(view.filters);
  const [rows, setRows] = useState<readonly Saga[] | null>(null);
  const [next, setNext] = useState<{ token: string; at: number } | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [now, setNow] = useState(Date.now());

  useEffect(() => setDraft(view.filters), [viewKey]);

  const built = listRequest(view, Date.now());
  useEffect(() => {
    if (!built.ok) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      if (document.visibilityState === "visible") {
        const current = listRequest(view, Date.now());
        if (current.ok) {
          try {
            const res = await clients.sagas.listSagas(current.request);
            if (stopped) return;
            setRows(res.sagas);
            setNext(res.nextPageToken ? { token: res.nextPageToken, at: current.at } : null);
            setProblem(null);
            setNow(Date.now());
          } catch (err) {
            if (stopped) return;
            const p = toProblem(err);
            if (p.code === Code.Unauthenticated) return signOut("Your token is no longer accepted (revoked?). Sign in again.");
            setProblem(p);
          }
        }
      }
      if (!stopped) timer = setTimeout(() => void load(), REFRESH_MS);
    };
    setRows(null);
    void load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [viewKey]);

  const go = (query: string) => location.route(`${PATHS.sagas}${query}`);
  const apply = (event: Event) => {
    event.preventDefault();
    go(queryFromView(withFilters(draft)));
  };
  const errors = built.ok ? new Map<FilterKey, string>() : built.errors;

  return (
    <section class="list-page">
      <h1>Sagas</h1>
      <form class="filters" onSubmit={apply} aria-label="Filters">
        {FILTER_KEYS.map((key) => (
          <label key={key} class="filter">
            <span>{key}</span>
            {key === "status" ? (
              <select name="status" value={draft.status} onChange={(e) => setDraft({ ...draft, status: e.currentTarget.value })}>
                <option value="">any</option>
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
          <button type="submit" class="primary">
            Apply
          </button>
          {hasFilters(view.filters) && (
            <button type="button" onClick={() => go("")}>
              Clear
            </button>
          )}
        </div>
      </form>
      {problem && (
        <div class="problem" role="alert">
          <strong>{problem.title}</strong> {problem.message}
        </div>
      )}
      {rows === null && built.ok && !problem && <p class="muted">Loading…</p>}
      {rows !== null && rows.length === 0 && <EmptyList filtered={hasFilters(view.filters)} />}
      {rows !== null && rows.length > 0 && <SagaTable rows={rows} now={now} />}
      <nav class="pager" aria-label="Pages">
        <button type="button" disabled={view.pages.length === 0} onClick={() => go(queryFromView(newerView(view)))}>
          Newer
        </button>
        <span class="muted">page {view.pages.length + 1}</span>
        <button type="button" disabled={next === null} onClick={() => next && go(queryFromView(olderView(view, next.token, next.at)))}>
          Older
        </button>
      </nav>
    </section>
  );
}

function SagaTable(props: { rows: readonly Saga[]; now: number }) {
  return (
    <table class="sagas">
      <thead>
        <tr>
          <th>Saga</th>
          <th>Status</th>
          <th>Definition</th>
          <th>Labels</th>
          <th>Created</th>
          <th>Updated</th>
        </tr>
      </thead>
      <tbody>
        {props.rows.map((saga) => (
          <tr key={saga.id} data-saga-id={saga.id}>
            <td>
              <a href={PATHS.saga(saga.id)} class="saga-link">
                {saga.name}
              </a>
              <div class="id-line">
                <code title={saga.id}>{saga.id.slice(0, 13)}…</code> <CopyButton text={saga.id} what="saga id" />
              </div>
            </td>
            <td>
              <StatusBadge look={sagaStatusLook(saga.status)} />
              {saga.currentStep && <div class="muted small">{saga.currentStep}</div>}
            </td>
            <td>
              {saga.definitionName ? (
                <a href={PATHS.definition(saga.definitionName)}>
                  {saga.definitionName}@{saga.definitionVersion}
                </a>
              ) : (
                <span class="muted">inline</span>
              )}
            </td>
            <td>
              {Object.entries(saga.labels).map(([k, v]) => (
                <span key={k} class="label">
                  {k}={v}
                </span>
              ))}
            </td>
            <td>
              <Ago time={saga.createTime} now={props.now} />
            </td>
            <td>
              <Ago time={saga.updateTime} now={props.now} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function EmptyList(props: { filtered: boolean }) {
  return props.filtered ? (
    <p class="empty">No saga matches these filters.</p>
  ) : (
    <div class="empty">
      <p>No sagas yet. Start one from a definition on the Definitions page, or from a terminal:</p>
      <pre>sagad saga create --def order-checkout --var order_id=A-1001</pre>
    </div>
  );
}
