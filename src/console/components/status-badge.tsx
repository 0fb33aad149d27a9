import type { StatusLook } from "../model/status.js";

/** A status as a coloured pill; the text is the status itself, so colour is never the only cue. */
export function StatusBadge(props: { look: StatusLook }) {
  const { look } = props;
  return (
    <span class={`badge tone-${look.tone}${look.live ? " live" : ""}`} data-status={look.label}>
      {look.live && <span class="pulse" aria-hidden="true" />}
      {look.label}
    </span>
  );
}
