import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { useEffect, useMemo, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { DefinitionState, type Definition } from "../../gen/saga/v1/definition_pb.js";
import { toProblem, type Problem } from "../api/problem.js";
import { ProblemNote } from "../lists/problem-note.js";
import { usePolled } from "../lists/use-polled.js";
import type { DagStep } from "../model/dag-model.js";
import { PATHS } from "../paths.js";
import { DagView } from "../saga/dag-view.js";
import { useSession } from "../session/session.js";
import { DefinitionStateBadge, definitionStateMeaning } from "./definition-state.js";
import { SpecView } from "./spec-view.js";
import { StartSagaForm } from "./start-saga-form.js";

/**
 * `/console/definitions/<name>[?version=N]`: the versions (newest first, their states refreshed),
 * and for the chosen one (the latest unless the URL names one) its DAG, its spec and a form that
 * starts a saga from it. Versions are immutable, so each one's spec is read once.
 */
export function DefinitionDetail(props: { name: string }) {
  const { name } = props;
  const { clients, signOut } = useSession();
  const location = useLocation();
  const versions = usePolled(() => clients.definitions.listDefinitionVersions({ name, pageSize: 1000 }), 5000, name);
  const list = versions.data?.definitions ?? null;
  const asked = Number(location.query.version);
  const chosen = list?.find((d) => d.version === asked) ?? list?.[0] ?? null;
  const version = chosen?.version ?? 0;

  const [specs, setSpecs] = useState<ReadonlyMap<number, Definition>>(new Map());
  const [problem, setProblem] = useState<Problem | null>(null);
  useEffect(() => {
    if (version === 0 || specs.has(version)) return;
    let stopped = false;
    clients.definitions.getDefinition({ name, version }).then(
      (res) => !stopped && res.definition && setSpecs((m) => new Map(m).set(version, res.definition!)),
      (err: unknown) => {
        if (stopped) return;
        const p = toProblem(err);
        if (p.code === Code.Unauthenticated) signOut("Your token is no longer accepted (revoked?). Sign in again.");
        else setProblem(p);
      },
    );
    return () => {
      stopped = true;
    };
  }, [name, version]);
  const spec = specs.get(version);
  const steps = useMemo<DagStep[]>(
    () =>
      (spec?.spec?.steps ?? []).map((s) => ({
        name: s.name,
        action: s.action,
        dependsOn: s.dependsOn,
        hasCompensation: s.compensate !== undefined && s.compensate.action !== "",
      })),
    [spec],
  );

  const missing = versions.problem?.code === Code.NotFound;
  return (
    <section class="list-page definition-page">
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href={PATHS.definitions}>Definitions</a> <span class="muted">/</span>
      </nav>
      <header class="page-head">
        <h1>{name}</h1>
      </header>
      {missing ? (
        <div class="empty">
          <p>
            <strong>No definition is registered under this name.</strong> <a href={PATHS.definitions}>See the definitions</a>.
          </p>
        </div>
      ) : (
        <ProblemNote problem={versions.problem ?? problem} staleSince={versions.data ? versions.at : null} />
      )}
      {!list && !versions.problem && <p class="muted">Loading…</p>}
      {list && chosen && (
        <>
          {chosen.spec?.description && <p class="page-intro">{chosen.spec.description}</p>}
          <VersionPicker
            versions={list}
            chosen={chosen.version}
            onChoose={(v) => location.route(v === list[0]?.version ? PATHS.definition(name) : `${PATHS.definition(name)}?version=${v}`)}
          />
          <p class="muted small version-facts">
            <DefinitionStateBadge state={chosen.state} /> Version {chosen.version}
            {chosen.createTime && `, registered ${new Date(timestampMs(chosen.createTime)).toLocaleString()}`}
            {chosen.createdBy && ` by ${chosen.createdBy}`}
            {`. ${definitionStateMeaning(chosen.state)} `}
            <a href={`${PATHS.sagas}?definition=${encodeURIComponent(`${name}@${chosen.version}`)}`}>Sagas of this version</a>
            {" · "}
            <a href={`${PATHS.sagas}?definition=${encodeURIComponent(name)}`}>of every version</a>
          </p>
          {!spec && !problem && <p class="muted">Loading version {chosen.version}…</p>}
          {spec && (
            <div class="definition-body">
              <div class="definition-main">
                <section class="panel" aria-label="Steps graph">
                  <h2>Graph</h2>
                  <DagView steps={steps} />
                </section>
                <SpecView definition={spec} />
              </div>
              {/* The state comes from the refreshed version list: it is the one thing about a version that changes. */}
              <StartSagaForm key={spec.version} definition={spec} state={chosen.state} />
            </div>
          )}
        </>
      )}
    </section>
  );
}

function VersionPicker(props: { versions: readonly Definition[]; chosen: number; onChoose: (version: number) => void }) {
  return (
    <div class="versions" role="tablist" aria-label="Versions">
      {props.versions.map((d, i) => (
        <button
          key={d.version}
          type="button"
          role="tab"
          aria-selected={d.version === props.chosen}
          class={`version${d.version === props.chosen ? " chosen" : ""}`}
          onClick={() => props.onChoose(d.version)}
          title={`${DefinitionState[d.state]}: ${definitionStateMeaning(d.state)}`}
        >
          v{d.version}
          {i === 0 && <span class="muted small"> latest</span>}
          {d.state !== DefinitionState.ACTIVE && <span class={`version-state state-${DefinitionState[d.state]}`}>{DefinitionState[d.state]}</span>}
        </button>
      ))}
    </div>
  );
}
