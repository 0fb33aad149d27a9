import { DefinitionState } from "../../gen/saga/v1/definition_pb.js";
import type { Tone } from "../model/status.js";

const LOOK: Record<DefinitionState, { tone: Tone; meaning: string }> = {
  [DefinitionState.UNSPECIFIED]: { tone: "idle", meaning: "" },
  [DefinitionState.ACTIVE]: { tone: "done", meaning: "New sagas start from it." },
  [DefinitionState.DEPRECATED]: { tone: "waiting", meaning: "New sagas still start from it, with a warning; a newer version is meant to replace it." },
  [DefinitionState.DISABLED]: { tone: "stopped", meaning: "sagad refuses to start sagas from it (FAILED_PRECONDITION); sagas already running go on." },
};

/** What a version's state means for starting sagas (running sagas are never affected). */
export function definitionStateMeaning(state: DefinitionState): string {
  return LOOK[state]?.meaning ?? "";
}

/** A version's state as a pill, with what it means on hover. */
export function DefinitionStateBadge(props: { state: DefinitionState }) {
  const look = LOOK[props.state] ?? LOOK[DefinitionState.UNSPECIFIED];
  return (
    <span class={`badge tone-${look.tone}`} data-state={DefinitionState[props.state]} title={look.meaning}>
      {DefinitionState[props.state]}
    </span>
  );
}
