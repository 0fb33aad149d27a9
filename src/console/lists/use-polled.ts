import { Code } from "@connectrpc/connect";
import { useEffect, useState } from "preact/hooks";
import { toProblem, type Problem } from "../api/problem.js";
import { useSession } from "../session/session.js";

/**
 * Calls `load` now and again every `intervalMs` while the tab is visible, keeping the last answer
 * on screen through a failed refresh. A revoked token signs the operator out.
 */
export function usePolled<T>(load: () => Promise<T>, intervalMs = 2500): { data: T | null; problem: Problem | null; at: number } {
  const { signOut } = useSession();
  const [state, setState] = useState<{ data: T | null; problem: Problem | null; at: number }>({ data: null, problem: null, at: Date.now() });
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      if (document.visibilityState === "visible") {
        try {
          const data = await load();
          if (!stopped) setState({ data, problem: null, at: Date.now() });
        } catch (err) {
          if (stopped) return;
          const problem = toProblem(err);
          if (problem.code === Code.Unauthenticated) return signOut("Your token is no longer accepted (revoked?). Sign in again.");
          setState((s) => ({ ...s, problem }));
        }
      }
      if (!stopped) timer = setTimeout(() => void tick(), intervalMs);
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);
  return state;
}
