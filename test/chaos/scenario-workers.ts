import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { createWorkerClient, EventType, StepStatus, TaskState } from "../../src/client/index.js";
import { createAdminToken, openBenchDatabase } from "../bench/environment.js";
import { countBy, faultRunResult, runChecks, runPaced } from "./fault-run.js";
import { ReplicaSet } from "./replica-set.js";
import { ResilientClient, sleep } from "./resilient-client.js";
import { check, elapsedS, zero, type Check, type Fault, type ScenarioContext, type ScenarioResult } from "./scenario.js";
import { startSwitchProxy, type SwitchProxy } from "./switch-proxy.js";
import type { Target } from "./target.js";
import { verifyRuns } from "./verify.js";
import { accountWorkerSaga, journalCalls, newWorkerAccounting, WORKER_FAILURES } from "./worker-accounting.js";
import { createWorkerToken, WorkerFleet, type WorkerSlot } from "./worker-fleet.js";
import { bySaga, type JournalEntry } from "./worker-journal.js";
import type { SagaRun } from "./saga-runner.js";
import { planWorkerSagas } from "./worker-workload.js";

/** Time between faults; sagas start over faults × this, so every fault meets tasks running. */
const PERIOD_MS = 8_000;
const REPLICAS = 2;
const WORKERS = 5;
/**
 * sagad's default session TTL (3 × the 5 s heartbeat interval; the CLI has no flag for it): how
 * long a killed or cut-off worker's tasks wait before they are offered again.
 */
const SESSION_TTL_MS = 15_000;
/** A worker whose path went silent must be heartbeating again within this (SDK idle timeout 35 s, then backoff). */
const RECOVERY_BUDGET_MS = 60_000;

type FaultKind = "worker-kill" | "replica-kill" | "stream-drop";

/** A worker and its own network path: a proxy the harness points at a replica, or silences. */
interface Lane {
  worker: WorkerSlot;
  proxy: SwitchProxy;
  /** The replica slot the proxy forwards to. */
  replica: number;
}

/**
 * Worker processes (worker-process.ts, the TypeScript SDK) run every step of the sagas, each
 * through a proxy of its own to one of two replicas. While sagas run, in turn: a worker with
 * tasks running is kill -9'd and replaced (alternately under the same instance id, which
 * resumes its session, and a new one); the replica some workers are connected to is kill -9'd,
 * their proxies are pointed at the other (a load balancer taking it out), and it is restarted;
 * a worker's path goes silent (bytes dropped, sockets left open). Then every saga is held to the
 * shared accounting (its history, with handler starts as the calls) and to the workers' journals:
 * each result recorded once, backed by a result call, its output the one a handler returned.
 */
export async function runWorkersScenario(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { options, cleanup, random, log } = ctx;
  const scenarioStarted = Date.now();
  const db = await openBenchDatabase("sagad_chaos_w");
  cleanup.add("workers scenario database", () => db.close());
  const dir = await mkdtemp(path.join(os.tmpdir(), "sagad-chaos-workers-"));
  cleanup.add("worker journals", () => rm(dir, { recursive: true, force: true }));
  const env = { SAGAD_LEASE_TTL_MS: String(options.leaseTtlMs), SAGAD_POLL_INTERVAL_MS: "500" };
  const replicas = await ReplicaSet.start(db.url, REPLICAS, "chaos-w", env, () => createAdminToken(db.url, `chaos-workers-${ctx.runId}`), cleanup);
  const workerToken = await createWorkerToken(db.url, `chaos-worker-fleet-${ctx.runId}`);
  const fleet = new WorkerFleet(dir, workerToken, {}, cleanup);
  const lanes: Lane[] = [];
  for (let i = 0; i < WORKERS; i++) {
    const replica = i % REPLICAS;
    const proxy = await startSwitchProxy(replicas.urlOf(replica));
    cleanup.add(`worker proxy ${i + 1}`, () => proxy.close());
    lanes.push({ worker: await fleet.add(`cw${i + 1}`, proxy.url), proxy, replica });
  }

  // Stalls are expected while a lost worker's tasks wait out the session TTL (twice, if the
  // rescuer is hit too): those count as during a fault.
  let quietUntil = 0;
  const client = new ResilientClient({ clients: () => replicas.allClients(), faultActive: () => replicas.anyDown() || Date.now() < quietUntil });
  const { sagas, workerKills, replicaKills, streamDrops } = options.workers;
  const schedule = faultSchedule(workerKills, replicaKills, streamDrops);
  const plans = planWorkerSagas(sagas, `${ctx.runId}-w`, random);
  const spanMs = Math.max(20_000, (schedule.length + 1) * PERIOD_MS);
  const started = Date.now();
  // The worst a saga may legitimately wait: a task lost to workers up to the requeue cap, one
  // session TTL each, plus a replica's lease takeover.
  const deadline = started + spanMs + 4 * SESSION_TTL_MS + options.leaseTtlMs + 30_000;
  log(`workers: ${sagas} sagas over ${spanMs / 1000}s, ${WORKERS} worker processes on ${REPLICAS} replicas; faults: ${schedule.join(", ") || "none"} (db: ${db.kind})`);

  const faults: Fault[] = [];
  const fault = (kind: string, detail: string, injected = true) => {
    faults.push({ atS: elapsedS(started), kind, detail, injected });
    log(`workers: ${kind} ${detail}`);
  };
  const drops: { lane: Lane; pid: number; atMs: number }[] = [];
  let sameIdRestarts = 0;
  const killedLanes = new Set<Lane>();

  const killWorker = async (k: number) => {
    // Mid-task: the worker with the most handlers running (wait a little for one that has any).
    const silenced = drops.map((d) => d.lane);
    let lane = busiest(lanes, fleet, silenced, killedLanes);
    for (let waited = 0; fleet.running(lane.worker) === 0 && waited < 4_000; waited += 100) {
      await sleep(100);
      lane = busiest(lanes, fleet, silenced, killedLanes);
    }
    const running = fleet.running(lane.worker);
    killedLanes.add(lane);
    const pid = await fleet.kill(lane.worker);
    quietUntil = Date.now() + 2 * SESSION_TTL_MS + 5_000;
    fault("kill -9 worker", `${lane.worker.instanceId} (pid ${pid}, ${running} handler(s) running)`);
    await sleep(random.int(300, 1_500));
    const sameId = k % 2 === 0;
    if (sameId) sameIdRestarts++;
    const id = await fleet.restart(lane.worker, sameId);
    fault("restart worker", `${id} (${sameId ? "same instance id: resumes the session" : "new instance id"})`, false);
  };

  const killReplica = async (k: number) => {
    // The replica most workers are connected to.
    const counts = countBy(lanes.filter((l) => l.worker.child).map((l) => String(l.replica)));
    const slot = Number(Object.entries(counts).sort((a, b) => b[1] - a[1])[0]?.[0] ?? 0);
    const onIt = lanes.filter((l) => l.replica === slot);
    const killed = await replicas.kill(slot);
    fault("kill -9 replica", `${killed} (${onIt.length} worker(s) connected through it: ${onIt.map((l) => l.worker.instanceId).join(", ")})`);
    // The load balancer notices after a moment and sends new connections to a live replica.
    await sleep(random.int(200, 800));
    const other = (slot + 1) % REPLICAS;
    for (const lane of onIt) {
      lane.proxy.point(replicas.urlOf(other));
      lane.replica = other;
    }
    fault("switch proxies", `${onIt.length} worker path(s) now go to ${replicas.replicaId(other)}`, false);
    await sleep(random.int(500, 2_000));
    const restarted = await replicas.restart(slot, k % 2 === 0);
    fault("restart replica", restarted, false);
  };

  const dropStream = async () => {
    // A worker not silenced before, preferably one with handlers running and not killed before
    // (so one fault's recovery does not hide another's).
    const live = lanes.filter((l) => l.worker.child && !drops.some((d) => d.lane === l));
    const fresh = live.filter((l) => !killedLanes.has(l));
    const lane = (fresh.length > 0 ? fresh : live).sort((a, b) => fleet.running(b.worker) - fleet.running(a.worker))[0] ?? lanes[0]!;
    const pid = lane.worker.child?.pid ?? 0;
    const running = fleet.running(lane.worker);
    const silenced = lane.proxy.blackhole();
    drops.push({ lane, pid, atMs: Date.now() });
    quietUntil = Date.now() + 2 * SESSION_TTL_MS + 5_000;
    fault("silence worker path", `${lane.worker.instanceId} (pid ${pid}, ${running} handler(s) running): ${silenced} connection(s) black-holed, sockets left open`);
  };

  const chaos = (async () => {
    let workerKill = 0;
    let replicaKill = 0;
    for (const [k, kind] of schedule.entries()) {
      const periodStart = started + (k + 0.5) * PERIOD_MS;
      await sleep(Math.max(0, periodStart + random.int(0, PERIOD_MS / 4) - Date.now()));
      if (kind === "worker-kill") await killWorker(workerKill++);
      else if (kind === "replica-kill") await killReplica(replicaKill++);
      else await dropStream();
    }
  })();
  const runs = await runPaced(client, plans, spanMs, deadline);
  await chaos;
  log(`workers: all sagas rested or timed out (${elapsedS(started)}s); checking the silenced workers came back`);

  // Each silenced worker must be heartbeating again (a new connection) within the budget.
  const recovered = await waitForRecovery(replicas, drops, RECOVERY_BUDGET_MS);
  log(`workers: verifying histories against ${fleet.all.length} workers' journals`);

  const entries = fleet.entries();
  const journals = bySaga(entries);
  const target: Target = {
    url: () => "",
    calls: journalCalls(entries),
    strays: [],
    inFlight: () => 0,
    close: async () => undefined,
  };
  const workerAcc = newWorkerAccounting();
  const requeues: string[] = [];
  const verdict = await verifyRuns(client, runs, target, db.url, 60_000, (record) => {
    accountWorkerSaga(workerAcc, record, journals.get(record.saga.id));
    for (const e of record.history) {
      if (e.type === EventType.STEP_RECOVERED) requeues.push(e.message.replace(/ \(requeue \d+ of at most \d+\)/, ""));
    }
  });
  const injected = (kind: string) => faults.filter((f) => f.injected && f.kind === kind).length;
  const checks: Check[] = [
    ...runChecks(verdict, client.stats, replicas.unexpectedExits),
    ...WORKER_FAILURES.map((f) => zero(f, workerAcc.failures[f])),
    zero("worker processes that exited by themselves", fleet.unexpectedExits.length),
    check("silenced workers heartbeating again (new connection)", recovered.filter((r) => r.afterMs !== null).length === drops.length, `${recovered.filter((r) => r.afterMs !== null).length}/${drops.length}`),
    check("worker kills injected", injected("kill -9 worker") === workerKills, injected("kill -9 worker")),
    check("replica kills injected", injected("kill -9 replica") === replicaKills, injected("kill -9 replica")),
    check("worker paths silenced", injected("silence worker path") === streamDrops, injected("silence worker path")),
  ];
  const stuck = await describeStuck(client, runs, entries);
  await fleet.stopAll();
  await replicas.stopAll();
  const result = faultRunResult("workers", elapsedS(scenarioStarted), faults, checks, { plans, target, client, replicas, verdict }, {
    database: db.kind,
    workers: WORKERS,
    sameIdRestarts,
    journal: {
      handlerStarts: workerAcc.handlerStarts,
      redeliveries: workerAcc.redeliveries,
      staleRefusals: workerAcc.staleRefusals,
      alreadyRecorded: workerAcc.alreadyRecorded,
      unanswered: workerAcc.unanswered,
    },
    requeuesBecause: countBy(requeues),
    recovery: recovered.map((r) => ({ worker: r.instance, pid: r.pid, heartbeatAgainAfterMs: r.afterMs, connectionsAfter: r.connections })),
    workerLogTail: fleet.loggedProblems(),
  });
  result.duplicates += workerAcc.failures.recordedTwice + workerAcc.failures.acceptedTwice;
  (result.details["problems"] as string[]).push(...fleet.unexpectedExits, ...workerAcc.samples, ...stuck);
  if (!result.passed) result.details["workerStderr"] = fleet.stderrTails(4_000);
  return result;
}

/**
 * For each saga that did not rest: its unfinished steps' task state (where the server thinks the
 * task is) and what the journals say happened to that step, so a stuck task can be traced to the
 * worker process that had it.
 */
async function describeStuck(client: ResilientClient, runs: readonly SagaRun[], entries: readonly JournalEntry[]): Promise<string[]> {
  const out: string[] = [];
  for (const run of runs.filter((r) => r.id !== "" && r.rested === null).slice(0, 10)) {
    try {
      const { saga } = await client.unary(`GetSaga ${run.id}`, (c, o) => c.getSaga({ id: run.id }, o), 10_000);
      for (const [idx, step] of saga!.steps.entries()) {
        if (step.taskState === TaskState.UNSPECIFIED) continue;
        const lines = entries
          .filter((e) => "saga" in e && e.saga === run.id && ("step" in e ? e.step === step.name : e.stepIdx === idx))
          .map((e) => `${e.instance}/pid ${e.pid} ${e.ev}${"attempt" in e ? ` a${e.attempt}d${e.delivery}` : ""}${"outcome" in e ? ` ${e.outcome}` : ""}${"code" in e ? ` ${e.code}` : ""}`);
        out.push(
          `stuck saga ${run.id} step ${step.name}: ${StepStatus[step.status]}, task ${TaskState[step.taskState]} on worker ${step.worker || "-"}, ` +
            `attempt ${step.retryCount}, ${step.taskRequeues} requeue(s); its events: ${eventsOf(run, step.name)}; journals: ${lines.join("; ") || "nothing"}`,
        );
      }
    } catch (err) {
      out.push(`stuck saga ${run.id}: ${(err as Error).message}`);
    }
  }
  return out;
}

/** A step's events as the saga's watcher saw them, e.g. `#5 STEP_STARTED a1 @12.3s`. */
function eventsOf(run: SagaRun, step: string): string {
  const t0 = run.live[0]?.time ? timestampMs(run.live[0].time) : 0;
  return (
    run.live
      .filter((e) => e.step === step)
      .map((e) => `#${e.sequence} ${EventType[e.type]} a${e.attempt}${e.time ? ` +${((timestampMs(e.time) - t0) / 1000).toFixed(1)}s` : ""}${e.message ? ` (${e.message.slice(0, 80)})` : ""}`)
      .join(", ") || "none"
  );
}

/** The faults in the order they are injected: the kinds interleaved, as evenly as their counts allow. */
function faultSchedule(workerKills: number, replicaKills: number, streamDrops: number): FaultKind[] {
  const left: [FaultKind, number][] = [["worker-kill", workerKills], ["replica-kill", replicaKills], ["stream-drop", streamDrops]];
  const out: FaultKind[] = [];
  while (left.some(([, n]) => n > 0)) {
    for (const entry of left) {
      if (entry[1] > 0) {
        out.push(entry[0]);
        entry[1]--;
      }
    }
  }
  return out;
}

/**
 * The live worker with the most handlers running, leaving out silenced ones (their recovery is
 * checked) and, while others are left, ones killed before (a second kill would end the session
 * the first restart resumed, and so hide what that restart did).
 */
function busiest(lanes: readonly Lane[], fleet: WorkerFleet, silenced: readonly Lane[], killed: ReadonlySet<Lane>): Lane {
  const live = lanes.filter((l) => l.worker.child && !silenced.includes(l));
  const fresh = live.filter((l) => !killed.has(l));
  return [...(fresh.length > 0 ? fresh : live)].sort((a, b) => fleet.running(b.worker) - fleet.running(a.worker))[0] ?? lanes[0]!;
}


/**
 * Polls ListWorkers until every silenced worker's instance (the same process) has heartbeated
 * after its path went silent, or the budget since that moment is over.
 */
async function waitForRecovery(
  replicas: ReplicaSet,
  drops: readonly { lane: Lane; pid: number; atMs: number }[],
  budgetMs: number,
): Promise<{ instance: string; pid: number; afterMs: number | null; connections: number }[]> {
  const results = drops.map((d) => ({ instance: d.lane.worker.instanceId, pid: d.pid, afterMs: null as number | null, connections: d.lane.proxy.connections }));
  const until = Math.max(...drops.map((d) => d.atMs + budgetMs), 0);
  while (results.some((r) => r.afterMs === null) && Date.now() < until) {
    for (const url of replicas.urls()) {
      try {
        const workers = createWorkerClient(url, { headers: { authorization: `Bearer ${replicas.bearer}` }, protocol: "grpc" });
        const { workers: listed } = await workers.listWorkers({}, { timeoutMs: 5_000 });
        for (const [i, d] of drops.entries()) {
          // The same process still (not killed and replaced since).
          if (results[i]!.afterMs !== null || d.lane.worker.child?.pid !== d.pid) continue;
          const w = listed.find((x) => x.instanceId === results[i]!.instance);
          const beat = w?.lastHeartbeatTime ? timestampMs(w.lastHeartbeatTime) : 0;
          if (beat > d.atMs) results[i]!.afterMs = beat - d.atMs;
        }
        break;
      } catch {
        // that replica is down: ask the next
      }
    }
    for (const [i, d] of drops.entries()) results[i]!.connections = d.lane.proxy.connections;
    if (results.some((r) => r.afterMs === null)) await sleep(500);
  }
  return results;
}
