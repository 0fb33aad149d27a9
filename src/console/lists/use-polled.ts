import { Code } from "@connectrpc/connect";
import { useEffect, useRef, useState } from "preact/hooks";
import { toProblem, type Problem } from "../api/problem.js";
import { useSession } from "../session/session.js";

/** What a polled list shows: the last answer (kept through a failed refresh), the failure, and when it was read. */
export interface Polled<T> {
  readonly data: T | null;
  readonly problem: Problem | null;
  /** When `data` was read (ms); ages on screen are measured against it. */
  readonly at: number;
}

/**
 * Calls `load` now and again `intervalMs` after each answer while the tab is visible, and at once
 * when it becomes visible again. Browsers talk HTTP/1.1 to sagad (six connections per origin), so
 * lists poll one request rather than open a stream per row. A new `key` (other filters, another
 * page) starts over with no data; a revoked token signs the operator out.
 */
export function usePolled<T>(load: () => Promise<T>, intervalMs = 2500, key = ""): Polled<T> {
  const { signOut } = useSession();
  const [state, setState] = useState<Polled<T>>({ data: null, problem: null, at: Date.now() });
  const latest = useRef(load);
  latest.current = load;

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let inFlight = false;
    setState({ data: null, problem: null, at: Date.now() });

    const tick = async () => {
      clearTimeout(timer);
      if (stopped || inFlight || document.visibilityState !== "visible") return;
      inFlight = true;
      try {
        const data = await latest.current();
        if (!stopped) setState({ data, problem: null, at: Date.now() });
      } catch (err) {
        if (stopped) return;
        const problem = toProblem(err);
        if (problem.code === Code.Unauthenticated) {
          stopped = true;
          return signOut("Your token is no longer accepted (revoked?). Sign in again.");
        }
        setState((s) => ({ ...s, problem }));
      } finally {
        inFlight = false;
      }
      if (!stopped) timer = setTimeout(() => void tick(), intervalMs);
    };
    const onVisibility = () => void tick();

    document.addEventListener("visibilitychange", onVisibility);
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisibility);
    };
  }, [key, intervalMs]);
  return state;
}
