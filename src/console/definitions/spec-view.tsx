import { toJson } from "@bufbuild/protobuf";
import type { Duration } from "@bufbuild/protobuf/wkt";
import { DefinitionSpecSchema, type Definition } from "../../gen/saga/v1/definition_pb.js";
import { Backoff, FailurePolicy, type RetryPolicy, type StepSpec } from "../../gen/saga/v1/saga_pb.js";
import { LabelChips } from "../lists/label-chips.js";
import { durationText } from "../model/duration-text.js";
import { varFields } from "../model/vars-form.js";

/**
 * A definition version's spec as an operator reads it: the saga-wide settings, one row per step
 * (action, dependencies, config with its templates, retries, compensation) and one per var, with
 * the registered spec as JSON underneath for copying.
 */
export function SpecView(props: { definition: Definition }) {
  const spec = props.definition.spec;
  if (!spec) return null;
  const fields = varFields(spec.varsSchema);
  return (
    <>
      <section class="panel" aria-label="Settings">
        <h2>Settings</h2>
        <dl class="facts">
          <dt>On a step failing for good</dt>
          <dd>{spec.failurePolicy === FailurePolicy.COMPENSATE ? "COMPENSATE: roll back at once" : "HOLD: wait for an operator"}</dd>
          <dt>RetrySaga budget</dt>
          <dd>{spec.maxRetries || 3}</dd>
          <dt>Labels</dt>
          <dd>{Object.keys(spec.labels).length > 0 ? <LabelChips labels={spec.labels} /> : <span class="muted">none</span>}</dd>
          <dt>Spec hash</dt>
          <dd>
            <code title={props.definition.specHash}>{props.definition.specHash.slice(0, 16)}</code>
          </dd>
        </dl>
      </section>
      <section class="panel" aria-label="Step specs">
        <h2>Steps ({spec.steps.length})</h2>
        <table class="list spec-steps">
          <thead>
            <tr>
              <th>Step</th>
              <th>Action</th>
              <th>After</th>
              <th>Config</th>
              <th>Retries</th>
              <th>Compensation</th>
            </tr>
          </thead>
          <tbody>
            {spec.steps.map((s) => (
              <tr key={s.name}>
                <td>
                  <code class="strong">{s.name}</code>
                </td>
                <td>
                  <code>{s.action}</code>
                </td>
                <td>{s.dependsOn.length > 0 ? s.dependsOn.map((d) => <code key={d} class="dep">{d}</code>) : <span class="muted">start</span>}</td>
                <td>
                  <ConfigText config={s.config} />
                </td>
                <td class="small">{retryText(s.retryPolicy)}</td>
                <td>
                  <Compensation step={s} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section class="panel" aria-label="Vars">
        <h2>Vars ({fields.length})</h2>
        {fields.length === 0 ? (
          <p class="muted">No vars schema: sagas of this version take no vars.</p>
        ) : (
          <table class="list spec-vars">
            <thead>
              <tr>
                <th>Var</th>
                <th>Type</th>
                <th>Default</th>
                <th>Rules</th>
              </tr>
            </thead>
            <tbody>
              {fields.map((f) => (
                <tr key={f.key}>
                  <td>
                    <code class="strong">{f.key}</code>
                    {f.required && <span class="required-tag">required</span>}
                  </td>
                  <td>{f.kind === "enum" ? `one of ${f.options?.join(", ")}` : f.kind}</td>
                  <td>{f.defaultText !== undefined ? <code>{f.defaultText}</code> : <span class="muted">none</span>}</td>
                  <td class="small">{[f.title, f.description, ...f.constraints].filter(Boolean).join(" · ")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <details class="panel raw-spec">
        <summary>Spec as registered (JSON)</summary>
        <pre>{JSON.stringify(toJson(DefinitionSpecSchema, spec), null, 2)}</pre>
      </details>
    </>
  );
}

function ConfigText(props: { config: StepSpec["config"] }) {
  if (!props.config || Object.keys(props.config).length === 0) return <span class="muted">none</span>;
  return <pre class="config">{JSON.stringify(props.config, null, 1).replace(/\n\s*/g, " ")}</pre>;
}

function Compensation(props: { step: StepSpec }) {
  const c = props.step.compensate;
  if (!c || c.action === "") return <span class="muted">none</span>;
  return (
    <div>
      <code>{c.action}</code>
      {c.config && Object.keys(c.config).length > 0 && <ConfigText config={c.config} />}
    </div>
  );
}

/** "3 attempts, exponential from 200 ms" (the server's defaults where the spec sets nothing). */
export function retryText(policy: RetryPolicy | undefined): string {
  const attempts = policy?.maxAttempts || 3;
  const backoff = policy?.backoff === Backoff.FIXED ? "fixed" : policy?.backoff === Backoff.LINEAR ? "linear" : "exponential";
  const parts = [`${attempts} attempt${attempts === 1 ? "" : "s"}`];
  if (attempts > 1) parts.push(`${backoff} from ${durationText(ms(policy?.initialInterval) ?? 1000)}`);
  const timeout = ms(policy?.timeout);
  if (timeout) parts.push(`${durationText(timeout)} per attempt`);
  if (policy?.nonRetryableErrors.length) parts.push(`fails at once on ${policy.nonRetryableErrors.join(", ")}`);
  return parts.join(", ");
}

function ms(d: Duration | undefined): number | undefined {
  if (!d) return undefined;
  const value = Number(d.seconds) * 1000 + d.nanos / 1e6;
  return value > 0 ? value : undefined;
}
