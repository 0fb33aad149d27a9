import { ProblemNote } from "../lists/problem-note.js";
import { Ago } from "../lists/ago.js";
import { usePolled } from "../lists/use-polled.js";
import { useSession } from "../session/session.js";
import "../lists/lists.css";

/**
 * Who serves worker actions right now (ListWorkers, across replicas): a step of an action no
 * session lists waits in the queue, which is the first thing to check when worker steps stall.
 */
export function WorkersPage() {
  const { clients } = useSession();
  const { data, problem, at } = usePolled(() => clients.workers.listWorkers({}));
  const workers = data?.workers ?? null;
  return (
    <section class="list-page">
      <h1>Workers</h1>
      <p class="muted">
        Worker sessions connected to any replica. A worker step whose action no session serves stays queued until one connects;
        a session that stops heartbeating is dropped and its tasks go back to the queue.
      </p>
      <ProblemNote problem={problem} />
      {workers === null && !problem && <p class="muted">Loading…</p>}
      {workers !== null && workers.length === 0 && (
        <div class="empty">
          <p>No worker is connected. Start one, e.g. the TypeScript example:</p>
          <pre>SAGAD_TOKEN=… node --import tsx examples/ts-worker/worker.ts</pre>
        </div>
      )}
      {workers !== null && workers.length > 0 && (
        <table class="sagas">
          <thead>
            <tr>
              <th>Instance</th>
              <th>Actions</th>
              <th>Slots in use</th>
              <th>Last heartbeat</th>
              <th>Connected</th>
              <th>Replica</th>
              <th>State</th>
            </tr>
          </thead>
          <tbody>
            {workers.map((w) => (
              <tr key={w.sessionId} data-worker={w.sessionId}>
                <td>
                  <strong>{w.instanceId}</strong>
                  <div class="muted small">
                    <code>{w.sessionId}</code> {w.sdk && `· ${w.sdk}`}
                  </div>
                  {Object.entries(w.labels).map(([k, v]) => (
                    <span key={k} class="label">
                      {k}={v}
                    </span>
                  ))}
                </td>
                <td>
                  {w.actions.map((a) => (
                    <div key={a.name}>
                      <code>{a.name}</code>
                      {a.maxConcurrency > 0 && <span class="muted small"> ≤{a.maxConcurrency} at once</span>}
                    </div>
                  ))}
                </td>
                <td>
                  {w.inFlight}/{w.slots}
                </td>
                <td>
                  <Ago time={w.lastHeartbeatTime} now={at} />
                </td>
                <td>
                  <Ago time={w.connectTime} now={at} />
                </td>
                <td>
                  <code>{w.replicaId}</code>
                </td>
                <td>{w.draining ? <span class="badge tone-waiting">DRAINING</span> : <span class="badge tone-done">SERVING</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
