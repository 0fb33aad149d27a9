import type { Saga } from "../../gen/saga/v1/saga_pb.js";
import { CopyButton } from "../components/copy-button.js";
import { RelativeTime } from "../components/relative-time.js";
import { StatusBadge } from "../components/status-badge.js";
import { sagaStatusLook } from "../model/status.js";
import { PATHS } from "../paths.js";
import { LabelChips } from "./label-chips.js";

/**
 * One row per saga, keyed by id, so a refresh updates the rows in place (a status badge changes,
 * nothing jumps). The short id is enough to tell rows apart; the copy button copies the full one.
 */
export function SagaTable(props: { sagas: readonly Saga[]; now: number }) {
  return (
    <table class="list sagas">
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
        {props.sagas.map((saga) => (
          <tr key={saga.id} data-saga-id={saga.id}>
            <td>
              <a href={PATHS.saga(saga.id)} class="row-title">
                {saga.name}
              </a>
              <div class="id-line">
                <code title={saga.id}>{saga.id.slice(0, 8)}</code>
                <CopyButton text={saga.id} what="saga id" />
              </div>
            </td>
            <td>
              <StatusBadge look={sagaStatusLook(saga.status)} />
              {saga.currentStep && (
                <div class="muted small" title={saga.error || undefined}>
                  {sagaStatusLook(saga.status).tone === "failed" ? "failed at " : "at "}
                  <code>{saga.currentStep}</code>
                </div>
              )}
            </td>
            <td>
              {saga.definitionName ? (
                <a href={PATHS.definition(saga.definitionName)} title={`Definition ${saga.definitionName}, version ${saga.definitionVersion}`}>
                  {saga.definitionName}@{saga.definitionVersion}
                </a>
              ) : (
                <span class="muted" title="Created with its own steps, not from a registered definition">
                  {saga.definition || "inline steps"}
                </span>
              )}
            </td>
            <td>
              <LabelChips labels={saga.labels} />
            </td>
            <td class="nowrap">
              <RelativeTime time={saga.createTime} now={props.now} />
            </td>
            <td class="nowrap">
              <RelativeTime time={saga.updateTime} now={props.now} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
