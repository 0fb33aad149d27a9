import { useEffect, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import type { Saga } from "../../gen/saga/v1/saga_pb.js";
import { ProblemNote } from "../lists/problem-note.js";
import { SagaFilterBar } from "../lists/saga-filter-bar.js";
import { SagaTable } from "../lists/saga-table.js";
import { usePolled } from "../lists/use-polled.js";
import {
  hasFilters,
  listRequest,
  newerView,
  olderView,
  queryFromView,
  viewFromQuery,
  withFilters,
  type FilterKey,
  type SagaListView,
} from "../model/saga-filters.js";
import { PATHS } from "../paths.js";
import { useSession } from "../session/session.js";
import "../lists/lists.css";

/** How often the rows on screen are read again; one ListSagas call per refresh, whatever the rows. */
const REFRESH_MS = 2000;

interface Page {
  readonly sagas: readonly Saga[];
  /** The next (older) page's token and the instant its request counted relative times from. */
  readonly older: { readonly token: string; readonly at: number } | null;
}

/**
 * `/console/`: sagas newest first. Filters and the cursor pages live in the URL query (shareable,
 * back/forward work); the page on screen is read again every two seconds while the tab is visible,
 * so statuses change in place, and on the first page new sagas appear at the top.
 */
export function SagasPage() {
  const { clients } = useSession();
  const location = useLocation();
  const view = viewFromQuery(location.query);
  const viewKey = queryFromView(view);
  const built = listRequest(view, Date.now());
  const definitionNames = useDefinitionNames();

  const { data, problem, at } = usePolled<Page | null>(
    async () => {
      const current = listRequest(view, Date.now());
      if (!current.ok) return null;
      const res = await clients.sagas.listSagas(current.request);
      return { sagas: res.sagas, older: res.nextPageToken ? { token: res.nextPageToken, at: current.at } : null };
    },
    REFRESH_MS,
    viewKey,
  );

  const go = (next: SagaListView) => location.route(`${PATHS.sagas}${queryFromView(next)}`);
  const errors = built.ok ? new Map<FilterKey, string>() : built.errors;
  const pageNumber = view.pages.length + 1;

  return (
    <section class="list-page">
      <header class="page-head">
        <h1>Sagas</h1>
        <span class="muted small">Newest first · refreshed every 2 s while this tab is visible</span>
      </header>
      <SagaFilterBar applied={view.filters} errors={errors} definitionNames={definitionNames} onApply={(filters) => go(withFilters(filters))} />
      <ProblemNote problem={problem} staleSince={data ? at : null} />
      {built.ok && (
        <div class="list-bar">
          <span class="muted">
            {data ? data.sagas.length > 0 && `${countText(data.sagas.length)} on page ${pageNumber}${data.older ? ", older ones on the next" : ""}` : "Loading…"}
          </span>
          <nav class="pager" aria-label="Pages">
            <button type="button" disabled={view.pages.length === 0} onClick={() => go(newerView(view))} title="Back to newer sagas">
              Newer
            </button>
            <button
              type="button"
              disabled={!data?.older}
              onClick={() => data?.older && go(olderView(view, data.older.token, data.older.at))}
              title="Older sagas"
            >
              Older
            </button>
          </nav>
        </div>
      )}
      {!built.ok && <p class="muted">Correct the filters marked above to see sagas.</p>}
      {data && data.sagas.length === 0 && <EmptyList view={view} />}
      {data && data.sagas.length > 0 && <SagaTable sagas={data.sagas} now={at} />}
    </section>
  );
}

function countText(shown: number): string {
  return `${shown} saga${shown === 1 ? "" : "s"}`;
}

/** Definition names for the definition filter's suggestions; read once, a missing list only loses the hints. */
function useDefinitionNames(): readonly string[] {
  const { clients } = useSession();
  const [names, setNames] = useState<readonly string[]>([]);
  useEffect(() => {
    clients.definitions
      .listDefinitions({ pageSize: 1000 })
      .then((res) => setNames(res.definitions.flatMap((d) => (d.spec ? [d.spec.name, `${d.spec.name}@${d.version}`] : []))))
      .catch(() => setNames([]));
  }, []);
  return names;
}

function EmptyList(props: { view: SagaListView }) {
  const { view } = props;
  if (view.pages.length > 0) return <p class="empty">No older sagas: this is the end of the list.</p>;
  if (hasFilters(view.filters)) {
    return (
      <div class="empty">
        <p>No saga matches these filters.</p>
        <p class="muted small">
          Name and labels match exactly; a definition without <code>@version</code> matches all its versions.{" "}
          <a href={PATHS.sagas}>Show all sagas</a>
        </p>
      </div>
    );
  }
  return (
    <div class="empty">
      <p>
        <strong>No sagas yet.</strong> Start one from a definition on the <a href={PATHS.definitions}>Definitions</a> page, or from a
        terminal:
      </p>
      <pre>{"sagad def register -f examples/order-checkout.yaml\nsagad saga create --def order-checkout --var order_id=A-1001"}</pre>
      <p class="muted small">
        Any client can also call <code>CreateSaga</code> with its own steps (see the README, “The API”).
      </p>
    </div>
  );
}
