import { Code } from "@connectrpc/connect";
import { useEffect, useState } from "preact/hooks";
import type { Saga, SagaEvent } from "../../gen/saga/v1/saga_pb.js";
import { toProblem, type Problem } from "../api/problem.js";
import { applyEvents, applySnapshot, EMPTY_LIVE, type LiveState } from "../model/saga-live.js";
import { useSession } from "../session/session.js";

/** Whether the page is receiving events right now. */
export type Connection = "connecting" | "live" | "reconnecting";

export interface LiveSaga {
  /** The saga as last known (snapshot + events since); undefined until GetSaga answers. */
  readonly saga: Saga | undefined;
  /** The whole history, in order, without duplicates. */
  readonly events: readonly SagaEvent[];
  readonly connection: Connection;
  /** GetSaga or WatchSaga said NOT_FOUND (or the id is malformed): there is no such saga, or it was deleted. */
  readonly notFound: boolean;
  /** A failure retrying cannot fix (e.g. PERMISSION_DENIED); the page shows it instead. */
  readonly problem: Problem | undefined;
}

/** A GetSaga after events, to pick up what events do not carry; never sooner than this. */
const REFETCH_DEBOUNCE_MS = 250;
/** …and never more often than once per this, so a busy saga costs a few calls a second at most. */
const REFETCH_MIN_INTERVAL_MS = 400;
const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 5_000;
/** Events are applied once per frame; a hidden tab (no frames) still catches up this often. */
const HIDDEN_FLUSH_MS = 250;

const START: LiveSaga = { saga: undefined, events: [], connection: "connecting", notFound: false, problem: undefined };

const SIGNED_OUT = "Your token is no longer accepted (revoked or expired). Sign in again.";

/**
 * A saga kept live: GetSaga for the snapshot, WatchSaga from sequence 0 for the whole history and
 * then every new event. A dropped stream is resumed after the last sequence applied (so no gap
 * and no duplicate), with backoff; a gap in what arrives restarts the stream at once. Events are
 * applied once per animation frame, so a saga emitting hundreds a second costs one render a frame.
 */
export function useLiveSaga(id: string): LiveSaga {
  const session = useSession();
  const [live, setLive] = useState<LiveSaga>(START);

  useEffect(() => {
    setLive(START);
    const { sagas } = session.clients;
    const stop = new AbortController();
    let state: LiveState = EMPTY_LIVE;
    let connection: Connection = "connecting";
    let pending: SagaEvent[] = [];
    let frame = 0;
    let hiddenTimer: ReturnType<typeof setTimeout> | undefined;
    // One WatchSaga call; aborted on its own to restart after a gap.
    let call: AbortController | undefined;
    let restartNow = false;

    const publish = () => {
      if (stop.signal.aborted) return;
      setLive((prev) => ({ ...prev, saga: state.saga, events: state.events, connection }));
    };
    const finish = (patch: Partial<LiveSaga>) => {
      if (stop.signal.aborted) return;
      stop.abort();
      setLive((prev) => ({ ...prev, ...patch }));
    };
    /** Handles what no retry fixes; true when it did (the page then stops watching). */
    const fatal = (problem: Problem): boolean => {
      if (problem.code === Code.Unauthenticated) {
        stop.abort();
        session.signOut(SIGNED_OUT);
        return true;
      }
      // The id is the only input, so INVALID_ARGUMENT means a malformed id: no such saga either.
      if (problem.code === Code.NotFound || problem.code === Code.InvalidArgument) {
        finish({ notFound: true });
        return true;
      }
      if (problem.code === Code.PermissionDenied) {
        finish({ problem });
        return true;
      }
      return false;
    };

    // --- the snapshot ---------------------------------------------------------------------------
    let refetchTimer: ReturnType<typeof setTimeout> | undefined;
    let snapshotBackoff = RECONNECT_FIRST_MS;
    let fetching = false;
    let again = false;
    let lastFetchAt = 0;
    const fetchSnapshot = async () => {
      refetchTimer = undefined;
      fetching = true;
      lastFetchAt = Date.now();
      try {
        const { saga } = await sagas.getSaga({ id }, { signal: stop.signal });
        snapshotBackoff = RECONNECT_FIRST_MS;
        if (saga) {
          state = applySnapshot(state, saga);
          publish();
        }
      } catch (err) {
        // Anything retrying can fix is tried again, with backoff: a resting saga sends no more
        // events, so nothing else would ever fetch its snapshot and the page would stay blank.
        if (!stop.signal.aborted && !fatal(toProblem(err)) && !refetchTimer) {
          refetchTimer = setTimeout(() => void fetchSnapshot(), snapshotBackoff);
          snapshotBackoff = Math.min(RECONNECT_MAX_MS, snapshotBackoff * 2);
        }
      } finally {
        fetching = false;
        if (again) {
          again = false;
          refetchSoon();
        }
      }
    };
    const refetchSoon = () => {
      if (stop.signal.aborted || refetchTimer) return;
      if (fetching) {
        again = true;
        return;
      }
      const wait = Math.max(REFETCH_DEBOUNCE_MS, lastFetchAt + REFETCH_MIN_INTERVAL_MS - Date.now());
      refetchTimer = setTimeout(() => void fetchSnapshot(), wait);
    };

    // --- the events -----------------------------------------------------------------------------
    const flush = () => {
      if (frame) cancelAnimationFrame(frame);
      if (hiddenTimer) clearTimeout(hiddenTimer);
      frame = 0;
      hiddenTimer = undefined;
      if (pending.length === 0) return;
      const applied = applyEvents(state, pending);
      pending = [];
      state = applied.state;
      if (applied.gap && call) {
        restartNow = true;
        call.abort();
      }
      refetchSoon();
      publish();
    };
    const flushSoon = () => {
      if (!frame) frame = requestAnimationFrame(flush);
      if (!hiddenTimer) hiddenTimer = setTimeout(flush, HIDDEN_FLUSH_MS);
    };
    const setConnection = (next: Connection) => {
      if (connection === next) return;
      connection = next;
      publish();
    };

    const watch = async () => {
      let backoff = RECONNECT_FIRST_MS;
      while (!stop.signal.aborted) {
        flush(); // so the resume point below counts everything received
        await visible(stop.signal);
        if (stop.signal.aborted) return;
        // A gap found by the flush above is covered by this new call, which starts after it.
        restartNow = false;
        const thisCall = new AbortController();
        call = thisCall;
        // A hidden tab gives its connection back (browsers allow six per origin over HTTP/1.1,
        // shared by every tab); the call resumes from the last sequence when the tab is shown.
        const onHidden = () => {
          if (document.visibilityState !== "hidden") return;
          restartNow = true;
          thisCall.abort();
          setConnection("reconnecting");
        };
        document.addEventListener("visibilitychange", onHidden);
        const onStop = () => thisCall.abort();
        stop.signal.addEventListener("abort", onStop);
        try {
          const stream = sagas.watchSaga(
            { id, afterSequence: state.lastSequence, follow: true, batchEvents: true },
            { signal: thisCall.signal, onHeader: () => setConnection("live") },
          );
          for await (const message of stream) {
            setConnection("live");
            backoff = RECONNECT_FIRST_MS;
            const kind = message.kind;
            if (kind.case === "events") pending.push(...kind.value.events);
            else if (kind.case === "event") pending.push(kind.value);
            else if (kind.case === "snapshot") state = applySnapshot(state, kind.value);
            flushSoon();
          }
          // A followed stream only ends when something in between dropped it: resume.
        } catch (err) {
          if (stop.signal.aborted) return;
          if (!thisCall.signal.aborted && fatal(toProblem(err))) return;
        } finally {
          stop.signal.removeEventListener("abort", onStop);
          document.removeEventListener("visibilitychange", onHidden);
        }
        if (stop.signal.aborted) return;
        if (restartNow) {
          restartNow = false;
          continue;
        }
        setConnection("reconnecting");
        await sleep(backoff, stop.signal);
        backoff = Math.min(RECONNECT_MAX_MS, backoff * 2);
      }
    };

    void fetchSnapshot();
    void watch();
    return () => {
      stop.abort();
      if (frame) cancelAnimationFrame(frame);
      if (hiddenTimer) clearTimeout(hiddenTimer);
      if (refetchTimer) clearTimeout(refetchTimer);
    };
  }, [id, session]);

  return live;
}

/** Resolves at once while the tab is visible, else when it is shown again (or `signal` aborts). */
function visible(signal: AbortSignal): Promise<void> {
  if (document.visibilityState !== "hidden") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (document.visibilityState === "hidden" && !signal.aborted) return;
      document.removeEventListener("visibilitychange", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    document.addEventListener("visibilitychange", done);
    signal.addEventListener("abort", done);
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
