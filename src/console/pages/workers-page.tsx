import { useLocation } from "preact-iso";
import type { Worker } from "../../gen/saga/v1/worker_pb.js";
import { RelativeTime } from "../components/relative-time.js";
import { LabelChips } from "../lists/label-chips.js";
import { ProblemNote } from "../lists/problem-note.js";
import { usePolled } from "../lists/use-polled.js";
import { PATHS } from "../paths.js";
import { useSession } from "../session/session.js";
import "../lists/lists.css";

/** Per action: how many sessions serve it and how many of their slots are free. */
interface ActionSupply {
  readonly name: string;
  readonly sessions: number;
  readonly draining: number;
  readonly freeSlots: number;
}

function supplyByAction(workers: readonly Worker[]): ActionSupply[] {
  const by = new Map<string, { sessions: number; draining: number; freeSlots: number }>();
  for (const w of workers) {
    for (const a of w.actions) {
      const s = by.get(a.name) ?? { sessions: 0, draining: 0, freeSlots: 0 };
      if (w.draining) s.draining++;
      else {
        s.sessions++;
        s.freeSlots += Math.max(0, w.slots - w.inFlight);
      }
      by.set(a.name, s);
    }
  }
  return [...by].map(([name, s]) => ({ name, ...s })).sort((a, b) => (a.name < b.name ? -1 : 1));
}

/**
 * `/console/workers`: the worker sessions connected to any replica (ListWorkers), and per action
 * who can take its tasks. A worker step whose action no serving session lists waits in the queue,
 * which is the first thing to check when worker steps stall. `?action=` narrows to one action.
 */
export function WorkersPage() {
  const { clients } = useSession();
  const location = useLocation();
  const action = location.query.action ?? "";
  const { data, problem, at } = usePolled(() => clients.workers.listWorkers({ action }), 2500, action);
  const workers = data?.workers ?? null;

  return (
    <section class="list-page">
      <header class="page-head">
        <h1>Workers</h1>
        <span class="muted small">Refreshed every 2.5 s while this tab is visible</span>
      </header>
      <p class="page-intro">
        Sessions of remote workers, on every replica. A step whose action no serving session lists waits in the queue until one
        connects; a session silent for three heartbeats is dropped, and its tasks are offered to others with the same attempt.
      </p>
      {action && (
        <p class="note info">
          Only sessions serving <code>{action}</code>. <a href={PATHS.workers}>Show all workers</a>
        </p>
      )}
      <ProblemNote problem={problem} staleSince={data ? at : null} />
      {workers === null && !problem && <p class="muted">Loading…</p>}
      {workers !== null && workers.length === 0 && (
        <div class="empty">
          <p>
            <strong>No worker is connected{action ? ` serving ${action}` : ""}.</strong> Steps of worker actions wait until one is.
            Start the TypeScript example beside this sagad:
          </p>
          <pre>{`SAGAD_URL=${window.location.origin} SAGAD_TOKEN=sagad_… node --import tsx examples/ts-worker/worker.ts`}</pre>
        </div>
      )}
      {workers !== null && workers.length > 0 && (
        <>
          <div class="actions-summary" aria-label="Actions served">
            {supplyByAction(workers).map((s) => (
              <div key={s.name} class="action-card" data-action={s.name}>
                <code>{s.name}</code>
                <span class="muted">
                  {s.sessions} serving session{s.sessions === 1 ? "" : "s"}, {s.freeSlots} free slot{s.freeSlots === 1 ? "" : "s"}
                  {s.draining > 0 && `, ${s.draining} draining`}
                </span>
              </div>
            ))}
          </div>
          <WorkerTable workers={workers} now={at} />
          <p class="muted small">
            How many tasks wait per action is not part of the ListWorkers answer; sagad exports it as the{" "}
            <code>sagad_worker_queue_depth</code> metric on <code>/metrics</code>.
          </p>
        </>
      )}
    </section>
  );
}

function WorkerTable(props: { workers: readonly Worker[]; now: number }) {
  return (
    <table class="list workers">
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
        {props.workers.map((w) => (
          <tr key={w.sessionId} data-worker={w.sessionId}>
            <td>
              <strong>{w.instanceId}</strong>
              <div class="muted small">
                session <code>{w.sessionId}</code>
                {w.sdk && ` · ${w.sdk}`}
              </div>
              <LabelChips labels={w.labels} />
            </td>
            <td>
              {w.actions.map((a) => (
                <div key={a.name}>
                  <a class="chip" href={`${PATHS.workers}?action=${encodeURIComponent(a.name)}`} title={`Only workers serving ${a.name}`}>
                    {a.name}
                  </a>
                  {a.maxConcurrency > 0 && <span class="muted small">at most {a.maxConcurrency} at once</span>}
                </div>
              ))}
            </td>
            <td>
              <div class="slots" title="Tasks offered to or running on this session / its slots">
                <span class="nowrap">
                  {w.inFlight}/{w.slots}
                </span>
                <span class={`slot-bar${w.inFlight >= w.slots ? " full" : ""}`} aria-hidden="true">
                  <span style={{ width: `${w.slots > 0 ? Math.min(100, (100 * w.inFlight) / w.slots) : 0}%` }} />
                </span>
              </div>
            </td>
            <td class="nowrap">
              <RelativeTime time={w.lastHeartbeatTime} now={props.now} empty="never" />
            </td>
            <td class="nowrap">
              <RelativeTime time={w.connectTime} now={props.now} />
            </td>
            <td>{w.replicaId ? <code>{w.replicaId}</code> : <span class="muted">none</span>}</td>
            <td>
              <WorkerState worker={w} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function WorkerState(props: { worker: Worker }) {
  const w = props.worker;
  if (w.draining) {
    return (
      <span class="badge tone-waiting" title="Finishing its tasks; it takes no new ones">
        DRAINING
      </span>
    );
  }
  if (!w.replicaId) {
    return (
      <span class="badge tone-idle" title="No Subscribe stream open right now (a polling worker between polls, or reconnecting)">
        NO STREAM
      </span>
    );
  }
  return (
    <span class="badge tone-done" title="Takes new tasks">
      SERVING
    </span>
  );
}
