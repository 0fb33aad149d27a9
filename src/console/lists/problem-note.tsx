import type { Problem } from "../api/problem.js";

/**
 * A failed read, shown above the data it concerns. A failed refresh keeps the last answer on
 * screen, so `staleSince` says how old it is; PERMISSION_DENIED says which scope was missing.
 */
export function ProblemNote(props: { problem: Problem | null; staleSince?: number | null }) {
  const { problem, staleSince } = props;
  if (!problem) return null;
  return (
    <div class="problem" role="alert">
      <strong>{problem.title}.</strong> {problem.message}
      {problem.requiredScope && <span> A token with {problem.requiredScope} (or admin) can see this.</span>}
      {staleSince != null && (
        <span class="muted"> Showing what was read at {new Date(staleSince).toLocaleTimeString()}; retrying.</span>
      )}
    </div>
  );
}
