import { RelativeTime } from "../components/relative-time.js";
import { LabelChips } from "../lists/label-chips.js";
import { ProblemNote } from "../lists/problem-note.js";
import { usePolled } from "../lists/use-polled.js";
import { PATHS } from "../paths.js";
import { useSession } from "../session/session.js";
import { DefinitionStateBadge } from "./definition-state.js";

/** `/console/definitions`: each definition's latest version, by name (ListDefinitions). */
export function DefinitionList() {
  const { clients } = useSession();
  const { data, problem, at } = usePolled(() => clients.definitions.listDefinitions({ pageSize: 1000 }), 5000);
  const list = data?.definitions ?? null;
  return (
    <section class="list-page">
      <header class="page-head">
        <h1>Definitions</h1>
        <span class="muted small">Latest version of each · refreshed every 5 s while this tab is visible</span>
      </header>
      <p class="page-intro">
        A definition describes a saga once; sagas start from one of its versions by name. Open one to see its versions, its steps
        as a graph, and to start a saga from a form made from its vars schema.
      </p>
      <ProblemNote problem={problem} staleSince={data ? at : null} />
      {list === null && !problem && <p class="muted">Loading…</p>}
      {list !== null && list.length === 0 && (
        <div class="empty">
          <p>
            <strong>No definitions yet.</strong> Register one from a YAML or JSON file (a deploy pipeline can run this on every deploy;
            an unchanged file keeps its version):
          </p>
          <pre>{"sagad def register -f examples/order-checkout.yaml"}</pre>
        </div>
      )}
      {list !== null && list.length > 0 && (
        <table class="list definitions">
          <thead>
            <tr>
              <th>Definition</th>
              <th>Latest version</th>
              <th>State</th>
              <th class="num">Steps</th>
              <th>Labels</th>
              <th>Updated</th>
            </tr>
          </thead>
          <tbody>
            {list.map((d) => {
              const name = d.spec?.name ?? "";
              return (
                <tr key={name} data-definition={name}>
                  <td>
                    <a class="row-title" href={PATHS.definition(name)}>
                      {name}
                    </a>
                    {d.spec?.description && <div class="muted small">{d.spec.description}</div>}
                  </td>
                  <td>
                    v{d.version}
                    {d.createdBy && <div class="muted small">by {d.createdBy}</div>}
                  </td>
                  <td>
                    <DefinitionStateBadge state={d.state} />
                  </td>
                  <td class="num">{d.stepCount}</td>
                  <td>
                    <LabelChips labels={d.spec?.labels} />
                  </td>
                  <td class="nowrap">
                    <RelativeTime time={d.updateTime ?? d.createTime} now={at} />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
