import { toJson } from "@bufbuild/protobuf";
import { FailurePolicy, StepSchema, type Saga } from "../../gen/saga/v1/saga_pb.js";
import { PATHS } from "../paths.js";
import "./saga.css";

/** The StepSpec fields of a step as the server holds it: what the saga was started with (or retried with). */
const SPEC_FIELDS = ["name", "action", "dependsOn", "config", "retryPolicy", "compensate"] as const;

/**
 * What the saga runs: the definition name and version it was started from, and its own snapshot
 * of the steps, vars, labels and failure policy. A saga keeps the steps of the version it started
 * with whatever is registered later, so this, not the definition page, is what it runs.
 */
export function DefinitionPanel(props: { saga: Saga }) {
  const { saga } = props;
  const specs = saga.steps.map((step) => {
    const json = toJson(StepSchema, step) as Record<string, unknown>;
    return Object.fromEntries(SPEC_FIELDS.filter((k) => json[k] !== undefined).map((k) => [k, json[k]]));
  });
  const vars = Object.entries(saga.vars).sort(([a], [b]) => a.localeCompare(b));
  const labels = Object.entries(saga.labels).sort(([a], [b]) => a.localeCompare(b));
  return (
    <section class="definition-panel" aria-label="Definition">
      <dl class="kv">
        <dt>Definition</dt>
        <dd>
          {saga.definitionName ? (
            <>
              <a href={PATHS.definition(saga.definitionName)}>{saga.definitionName}</a> version {saga.definitionVersion}
            </>
          ) : (
            <span class="muted">none: the steps were given to CreateSaga</span>
          )}
        </dd>
        {saga.definition && (
          <>
            <dt>Label</dt>
            <dd>{saga.definition}</dd>
          </>
        )}
        <dt>Failure policy</dt>
        <dd>{saga.failurePolicy === FailurePolicy.COMPENSATE ? "COMPENSATE (roll back at once)" : "HOLD (wait for an operator)"}</dd>
        <dt>RetrySaga budget</dt>
        <dd>{saga.maxRetries}</dd>
        {saga.requestId && (
          <>
            <dt>Request id</dt>
            <dd>
              <code>{saga.requestId}</code>
            </dd>
          </>
        )}
      </dl>
      <h3>Vars</h3>
      <Pairs pairs={vars} empty="No vars." />
      <h3>Labels</h3>
      <Pairs pairs={labels} empty="No labels." />
      <h3>Steps ({specs.length})</h3>
      <pre class="json tall">{JSON.stringify(specs, null, 2)}</pre>
    </section>
  );
}

function Pairs(props: { pairs: readonly [string, string][]; empty: string }) {
  if (props.pairs.length === 0) return <p class="muted">{props.empty}</p>;
  return (
    <table class="pairs">
      <tbody>
        {props.pairs.map(([k, v]) => (
          <tr key={k}>
            <th scope="row">
              <code>{k}</code>
            </th>
            <td>
              <code class="wrap">{v}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
