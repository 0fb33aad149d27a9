import { CircuitState, type Circuit } from "../../gen/saga/v1/saga_pb.js";
import { Ago } from "../lists/ago.js";
import { ProblemNote } from "../lists/problem-note.js";
import { usePolled } from "../lists/use-polled.js";
import { useSession } from "../session/session.js";
import "../lists/lists.css";

const STATE_TONE: Record<CircuitState, string> = {
  [CircuitState.UNSPECIFIED]: "idle",
  [CircuitState.CLOSED]: "done",
  [CircuitState.OPEN]: "failed",
  [CircuitState.HALF_OPEN]: "waiting",
};

/** What an open or probing breaker means for the steps behind it, in words. */
function meaning(c: Circuit): string {
  switch (c.state) {
    case CircuitState.OPEN:
      return `Calls are not made: ${c.waitingSteps} step(s) wait, without using an attempt, until the next probe.`;
    case CircuitState.HALF_OPEN:
      return "One probe call is being let through; its result closes or reopens the breaker.";
    default:
      return "Calls flow normally.";
  }
}

/**
 * The circuit breakers of the replica that answered (breakers are per replica): an OPEN one is why
 * steps of that action wait instead of running.
 */
export function CircuitsPage() {
  const { clients } = useSession();
  const { data, problem, at } = usePolled(() => clients.sagas.listCircuits({}));
  return (
    <section class="list-page">
      <h1>Circuit breakers</h1>
      {data && (
        <p class="muted">
          Replica <code>{data.replicaId}</code>; each replica keeps its own breakers, so another replica may answer differently.
        </p>
      )}
      <ProblemNote problem={problem} />
      {!data && !problem && <p class="muted">Loading…</p>}
      {data && data.circuits.length === 0 && <p class="empty">This replica has called no action yet, so it has no breakers.</p>}
      {data && data.circuits.length > 0 && (
        <table class="sagas">
          <thead>
            <tr>
              <th>Key</th>
              <th>State</th>
              <th>Failures in a row</th>
              <th>Totals</th>
              <th>Opened</th>
              <th>Next probe</th>
              <th>What it means</th>
            </tr>
          </thead>
          <tbody>
            {data.circuits.map((c) => (
              <tr key={c.key} data-circuit={c.key} data-state={CircuitState[c.state]}>
                <td>
                  <code>{c.key}</code>
                  {c.lastError && <div class="error small">{c.lastError}</div>}
                </td>
                <td>
                  <span class={`badge tone-${STATE_TONE[c.state]}`}>{CircuitState[c.state]}</span>
                </td>
                <td>{c.consecutiveFailures}</td>
                <td class="small">
                  {String(c.totalSuccesses)} ok · {String(c.totalFailures)} failed · {String(c.totalRejected)} held back
                </td>
                <td>
                  <Ago time={c.openedTime} now={at} />
                </td>
                <td>
                  <Ago time={c.nextProbeTime} now={at} />
                </td>
                <td class="small">{meaning(c)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
