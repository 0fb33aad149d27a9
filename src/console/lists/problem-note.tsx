import type { Problem } from "../api/problem.js";

/** A failed call, shown where its data would be; PERMISSION_DENIED says which scope was missing. */
export function ProblemNote(props: { problem: Problem | null }) {
  const { problem } = props;
  if (!problem) return null;
  return (
    <div class="problem" role="alert">
      <strong>{problem.title}</strong> {problem.message}
      {problem.requiredScope && <span> (a token with {problem.requiredScope} or admin can see this)</span>}
    </div>
  );
}
