import { timestampMs } from "@bufbuild/protobuf/wkt";
import { useEffect, useState } from "preact/hooks";
import { DefinitionState, type Definition } from "../../gen/saga/v1/definition_pb.js";
import { toProblem, type Problem } from "../api/problem.js";
import { StartSagaForm } from "../definitions/start-saga-form.js";
import { Ago } from "../lists/ago.js";
import { ProblemNote } from "../lists/problem-note.js";
import { usePolled } from "../lists/use-polled.js";
import type { DagStep } from "../model/dag-model.js";
import { PATHS } from "../paths.js";
import { DagView } from "../saga/dag-view.js";
import { useSession } from "../session/session.js";
import "../lists/lists.css";

const STATE_TONE: Record<DefinitionState, string> = {
  [DefinitionState.UNSPECIFIED]: "idle",
  [DefinitionState.ACTIVE]: "done",
  [DefinitionState.DEPRECATED]: "waiting",
  [DefinitionState.DISABLED]: "stopped",
};

/** `/console/definitions`: every definition's latest version; `/console/definitions/<name>`: one definition. */
export function DefinitionsPage(props: { params?: { name?: string } }) {
  const name = props.params?.name;
  return name ? <DefinitionDetail name={decodeURIComponent(name)} /> : <DefinitionList />;
}

function DefinitionList() {
  const { clients } = useSession();
  const { data, problem, at } = usePolled(() => clients.definitions.listDefinitions({ pageSize: 200 }), 5000);
  const list = data?.definitions ?? null;
  return (
    <section class="list-page">
      <h1>Definitions</h1>
      <ProblemNote problem={problem} />
      {list === null && !problem && <p class="muted">Loading…</p>}
      {list !== null && list.length === 0 && (
        <div class="empty">
          <p>No definitions yet. Register one from a YAML file:</p>
          <pre>sagad def register -f examples/order-checkout.yaml</pre>
        </div>
      )}
      {list !== null && list.length > 0 && (
        <table class="sagas">
          <thead>
            <tr>
              <th>Definition</th>
              <th>Latest</th>
              <th>State</th>
              <th>Steps</th>
              <th>Labels</th>
              <th>Updated</th>
            </tr>
          </thead>
          <tbody>
            {list.map((d) => (
              <tr key={d.spec?.name} data-definition={d.spec?.name}>
                <td>
                  <a class="saga-link" href={PATHS.definition(d.spec?.name ?? "")}>
                    {d.spec?.name}
                  </a>
                  {d.spec?.description && <div class="muted small">{d.spec.description}</div>}
                </td>
                <td>v{d.version}</td>
                <td>
                  <span class={`badge tone-${STATE_TONE[d.state]}`}>{DefinitionState[d.state]}</span>
                </td>
                <td>{d.stepCount}</td>
                <td>
                  {Object.entries(d.spec?.labels ?? {}).map(([k, v]) => (
                    <span key={k} class="label">
                      {k}={v}
                    </span>
                  ))}
                </td>
                <td>
                  <Ago time={d.updateTime ?? d.createTime} now={at} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function DefinitionDetail(props: { name: string }) {
  const { clients } = useSession();
  const [versions, setVersions] = useState<readonly Definition[] | null>(null);
  const [chosen, setChosen] = useState<number | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  useEffect(() => {
    clients.definitions
      .listDefinitionVersions({ name: props.name, pageSize: 100 })
      .then((res) => {
        setVersions(res.definitions);
        setChosen(res.definitions[0]?.version ?? null);
      })
      .catch((err) => setProblem(toProblem(err)));
  }, [props.name]);
  // Version lists carry summaries; the chosen version's spec (steps, vars schema) comes from GetDefinition.
  const [definition, setDefinition] = useState<Definition | null>(null);
  useEffect(() => {
    if (chosen === null) return;
    setDefinition(null);
    clients.definitions
      .getDefinition({ name: props.name, version: chosen })
      .then((res) => setDefinition(res.definition ?? null))
      .catch((err) => setProblem(toProblem(err)));
  }, [props.name, chosen]);
  const steps: DagStep[] = (definition?.spec?.steps ?? []).map((s) => ({
    name: s.name,
    action: s.action,
    dependsOn: s.dependsOn,
    hasCompensation: s.compensate !== undefined && s.compensate.action !== "",
  }));
  return (
    <section class="list-page">
      <p>
        <a href={PATHS.definitions}>← Definitions</a>
      </p>
      <h1>{props.name}</h1>
      <ProblemNote problem={problem} />
      {versions && (
        <div class="versions" role="tablist" aria-label="Versions">
          {versions.map((d) => (
            <button
              key={d.version}
              type="button"
              role="tab"
              aria-selected={d.version === chosen}
              class={d.version === chosen ? "primary" : ""}
              onClick={() => setChosen(d.version)}
              title={`${DefinitionState[d.state]}, registered ${d.createTime ? new Date(timestampMs(d.createTime)).toLocaleString() : ""}${d.createdBy ? ` by ${d.createdBy}` : ""}`}
            >
              v{d.version} {d.state !== DefinitionState.ACTIVE && `(${DefinitionState[d.state]})`}
            </button>
          ))}
        </div>
      )}
      {definition && (
        <div class="definition-body">
          <div class="definition-graph">
            <DagView steps={steps} />
          </div>
          <StartSagaForm key={definition.version} definition={definition} />
          <details>
            <summary>Spec of v{definition.version}</summary>
            <pre>{JSON.stringify(definition.spec ? specJson(definition) : {}, null, 2)}</pre>
          </details>
        </div>
      )}
    </section>
  );
}

function specJson(d: Definition): unknown {
  const spec = d.spec!;
  return { name: spec.name, description: spec.description, labels: spec.labels, varsSchema: spec.varsSchema, steps: spec.steps.map((s) => ({ name: s.name, action: s.action, dependsOn: s.dependsOn, config: s.config, compensate: s.compensate })) };
}
