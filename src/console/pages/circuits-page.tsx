import { timestampMs } from "@bufbuild/protobuf/wkt";
import { CircuitState, type Circuit } from "../../gen/saga/v1/saga_pb.js";
import { RelativeTime, relativeText } from "../components/relative-time.js";
import { ProblemNote } from "../lists/problem-note.js";
import { usePolled } from "../lists/use-polled.js";
import type { Tone } from "../model/status.js";
import { useSession } from "../session/session.js";
import "../lists/lists.css";

const STATE_TONE: Record<CircuitState, Tone> = {
  [CircuitState.UNSPECIFIED]: "idle",
  [CircuitState.CLOSED]: "done",
  [CircuitState.OPEN]: "failed",
  [CircuitState.HALF_OPEN]: "waiting",
};

function steps(n: number): string {
  return `${n} step${n === 1 ? "" : "s"}`;
}

/** What a breaker's state means for the steps behind it, in one sentence (README, "Circuit breakers"). */
export function circuitMeaning(c: Circuit, now: number): string {
  switch (c.state) {
    case CircuitState.OPEN: {
      const probe = c.nextProbeTime ? timestampMs(c.nextProbeTime) : undefined;
      const waiting = c.waitingSteps > 0 ? `${steps(c.waitingSteps)} wait without using an attempt` : "No step waits now";
      if (probe === undefined || probe > now) {
        return `Calls are held back. ${waiting}; ${probe === undefined ? "a probe call" : `the probe ${relativeText(probe, now)}`} decides whether calls resume.`;
      }
      return `The open time is over: the next step that calls ${c.action || "it"} makes the probe call. ${waiting}.`;
    }
    case CircuitState.HALF_OPEN:
      return `One probe call is in flight; ${steps(c.waitingSteps)} wait for it. Success closes the breaker and releases them gradually; failure reopens it.`;
    default:
      return c.consecutiveFailures > 0
        ? `Calls go through; ${c.consecutiveFailures} failed in a row so far, and enough in a row will open it.`
        : "Calls go through.";
  }
}

/**
 * `/console/circuits`: the circuit breakers of the replica that answered (each replica keeps its
 * own). An OPEN breaker is why steps of its action or host wait (RETRY_SCHEDULED, error kind
 * CIRCUIT_OPEN) instead of running.
 */
export function CircuitsPage() {
  const { clients } = useSession();
  const { data, problem, at } = usePolled(() => clients.sagas.listCircuits({}));
  const open = data?.circuits.filter((c) => c.state !== CircuitState.CLOSED).length ?? 0;
  return (
    <section class="list-page">
      <header class="page-head">
        <h1>Circuit breakers</h1>
        <span class="muted small">Refreshed every 2.5 s while this tab is visible</span>
      </header>
      <p class="page-intro">
        One breaker per action, and per target host for <code>http</code>. Consecutive failed calls open it; while it is open the
        steps behind it wait (RETRY_SCHEDULED with error kind CIRCUIT_OPEN) without using attempts, until a probe call succeeds.
      </p>
      <ProblemNote problem={problem} staleSince={data ? at : null} />
      {!data && !problem && <p class="muted">Loading…</p>}
      {data && (
        <p class="muted" data-testid="replica">
          Answered by replica <code>{data.replicaId}</code>
          {data.circuits.length > 0 && `: ${data.circuits.length} breaker${data.circuits.length === 1 ? "" : "s"}, ${open} not closed`}.
          Each replica judges its targets on its own, so another replica may show other states.
        </p>
      )}
      {data && data.circuits.length === 0 && (
        <p class="empty">This replica has not called any action recently, so it has no breakers (idle closed ones are forgotten after 10 minutes).</p>
      )}
      {data && data.circuits.length > 0 && (
        <table class="list circuits">
          <thead>
            <tr>
              <th>Breaker</th>
              <th>State</th>
              <th class="num">Failures in a row</th>
              <th class="num">Waiting steps</th>
              <th>Calls since made</th>
              <th>Opened</th>
              <th>Next probe</th>
              <th>What it means</th>
            </tr>
          </thead>
          <tbody>
            {data.circuits.map((c) => (
              <tr key={c.key} data-circuit={c.key} data-state={CircuitState[c.state]}>
                <td class="circuit-key">
                  <code>{c.key}</code>
                  {c.lastError && (
                    <div class="error small" title="The last failure that counted against it">
                      {c.lastError}
                    </div>
                  )}
                </td>
                <td>
                  <span class={`badge tone-${STATE_TONE[c.state]}`}>{CircuitState[c.state]}</span>
                </td>
                <td class="num">{c.consecutiveFailures}</td>
                <td class="num">{c.waitingSteps}</td>
                <td class="small">
                  {String(c.totalSuccesses)} ok · {String(c.totalFailures)} failed · {String(c.totalRejected)} held back
                </td>
                <td class="nowrap">
                  <RelativeTime time={c.openedTime} now={at} empty="never" />
                </td>
                <td class="nowrap">
                  <RelativeTime time={c.nextProbeTime} now={at} />
                </td>
                <td class="small meaning">{circuitMeaning(c, at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
