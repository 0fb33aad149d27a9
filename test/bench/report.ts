import type { CpuPerSaga } from "./definition-create.js";
import type { BenchResult } from "./main.js";
import type { Percentiles } from "./stats.js";
import type { DeliveryResult } from "./watch.js";
import type { WatchSeries } from "./watch-scenarios.js";

/** The human-readable summary on stderr; stdout carries the JSON. */
export function printTable(r: BenchResult): void {
  const rows: [string, string][] = [];
  const pct = (p: Percentiles | null | undefined) => (p ? `p50 ${p.p50}  p95 ${p.p95}  p99 ${p.p99}  (n=${p.count})` : "-");
  if (r.baseline) rows.push(["pgbench single-row UPDATE (baseline)", `${r.baseline.pgbenchSingleRowUpdateTps} TPS`]);
  for (const t of r.throughput) {
    const ratio = t.ratioToBaseline === null ? "" : `  (ratio ${t.ratioToBaseline})`;
    rows.push([`throughput ${t.shape}, K=${r.options.steps} C=${r.options.concurrency}`, `${t.stepsPerSec} steps/s, ${t.sagasPerSec} sagas/s${ratio}`]);
    rows.push([`  rounds (steps/s)`, t.roundsStepsPerSec.join(", ")]);
    rows.push([`  create -> resting, ms`, pct(t.latencyMs)]);
    if (t.dispatchMs) rows.push([`  dispatch completed -> started, ms`, pct(t.dispatchMs)]);
    if (t.cycleMs) rows.push([`  step cycle started -> next started, ms`, pct(t.cycleMs)]);
    const c = t.dbCost;
    rows.push([`  per step: commits / statements / rows / WAL`, `${c.commitsPerStep} / ${c.statementsPerStep ?? "n/a"} / ${c.rowsWrittenPerStep} / ${c.walBytesPerStep} B`]);
    const u = t.cpu;
    rows.push([`  cores used: sagad / client / postgres`, `${u.cores.sagad} / ${u.cores.client} / ${u.cores.postgres}  (machine ${Math.round(u.machineBusyShare * 100)}% busy)`]);
    rows.push([`  CPU ms per step: sagad / client / postgres`, `${u.msPerStep.sagad} / ${u.msPerStep.client} / ${u.msPerStep.postgres}  (total ${u.msPerStep.total})`]);
  }
  if (r.latency.serial) {
    rows.push([`latency C=1, K=${r.options.steps} sequential, ms`, pct(r.latency.serial.latencyMs)]);
    rows.push([`  dispatch completed -> started, ms`, pct(r.latency.serial.dispatchMs)]);
    rows.push([`  step cycle started -> next started, ms`, pct(r.latency.serial.cycleMs)]);
    const t = r.latency.serial.timelineMs;
    rows.push([`  from create sent: answered / last decided / rest received, p50 ms`, `${t.createAnswered.p50} / ${t.lastDecided.p50} / ${t.restingReceived.p50}`]);
    for (const s of r.latency.statements ?? []) {
      rows.push([`  C=1 pg: ${s.calls} calls, exec ${s.meanExecMs} + plan ${s.meanPlanMs} ms`, s.query.slice(0, 70)]);
    }
  }
  const d = r.definitionCreate;
  if (d) {
    for (const [what, p] of [["CreateSaga only, creates/s", d.createOnly], ["create -> COMPLETED, sagas/s", d.endToEnd]] as const) {
      rows.push([`definition vs inline, C=${d.concurrency}: ${what}`, `${p.definitionPerSec} vs ${p.inlinePerSec}  (ratio ${p.ratio})`]);
      rows.push([`  rounds definition / inline`, `${p.definitionRounds.join(", ")} / ${p.inlineRounds.join(", ")}  (pairs ${p.pairRatios.join(", ")})`]);
      rows.push([`  latency definition, ms`, pct(p.definitionLatencyMs)]);
      rows.push([`  latency inline, ms`, pct(p.inlineLatencyMs)]);
      const c = (x: CpuPerSaga) => `${x.sagad} / ${x.client} / ${x.postgres} = ${x.total}`;
      rows.push([`  CPU ms per saga, sagad / client / postgres: definition`, c(p.definitionCpuMsPerSaga)]);
      rows.push([`  CPU ms per saga, sagad / client / postgres: inline`, c(p.inlineCpuMsPerSaga)]);
    }
  }
  rows.push(...watchRows(r));
  if (r.rss) {
    rows.push([`server RSS, no streams`, `${r.rss.baselineMiB} MiB`]);
    for (const s of r.rss.streams) rows.push([`server RSS, ${s.open} open streams`, `${s.rssMiB} MiB`]);
  }
  for (const l of r.list) {
    rows.push([`ListSagas first page at ${l.sagas} sagas, ms`, pct(l.firstPage)]);
    rows.push([`ListSagas deep page at ${l.sagas} sagas, ms`, pct(l.deepPage)]);
    const f = l.filtered;
    rows.push([`  first page, definition name + version, ms`, pct(f.definitionVersion)]);
    rows.push([`  first page, definition name (any version), ms`, pct(f.definitionAnyVersion)]);
    rows.push([`  first page, created_after/created_before window, ms`, pct(f.createdWindow)]);
    rows.push([`  first page, definition + window, ms`, pct(f.definitionInWindow)]);
    rows.push([`  first page, dormant definition name (any version), ms`, pct(f.dormantAnyVersion)]);
    rows.push([`  first page, dormant definition name + version, ms`, pct(f.dormantVersion)]);
    rows.push([`  first page again, after the other samples, ms`, pct(l.firstPageAgain)]);
  }
  rows.push(...workerRows(r, pct));
  for (const s of r.topStatements ?? []) {
    rows.push([`  pg: ${s.calls} calls, exec ${s.meanExecMs} + plan ${s.meanPlanMs} ms`, s.query.slice(0, 70)]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  process.stderr.write(`\n${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n")}\n`);
}

const CELL = 30;

/**
 * Watch delivery as a small table: one row per load (lockstep first, then the staggered rates),
 * one column per server, so sagad and the bare framework at the same load sit side by side.
 */
function watchRows(r: BenchResult): [string, string][] {
  const columns: [string, WatchSeries | null][] = [
    ["sagad, same replica", r.watch?.sameReplica ?? null],
    ["sagad, same, batch_events", r.watch?.sameReplicaBatched ?? null],
    ["sagad, across replicas", r.watch?.crossReplica ?? null],
    ["bare Connect-ES", r.watchFloor],
  ];
  const present = columns.filter((c): c is [string, WatchSeries] => c[1] !== null);
  if (present.length === 0) return [];
  const loads = (s: WatchSeries) => [s.lockstep, ...s.staggered];
  const cell = (d: DeliveryResult | undefined) => {
    if (!d) return "-".padEnd(CELL);
    const cpu = `${Math.round(d.serverCpuUsPerMessage)}+${Math.round(d.clientCpuUsPerMessage)} µs`;
    return `${d.latencyMs.p50}/${d.latencyMs.p95}/${d.latencyMs.p99}, ${cpu}`.padEnd(CELL);
  };
  const first = present[0]![1];
  const rows: [string, string][] = [
    [`watch delivery, ${first.lockstep.watchers} streams: p50/p95/p99 ms, CPU per event server+client`, present.map(([name]) => name.padEnd(CELL)).join("").trimEnd()],
  ];
  loads(first).forEach((load, i) => {
    const kind = load.staggered ? "staggered" : "lockstep";
    rows.push([`  ${kind}, ${load.stepMs} ms steps, ${load.offeredPerSec} events/s`, present.map(([, s]) => cell(loads(s)[i])).join("").trimEnd()]);
  });
  return rows;
}

/** The workers, dispatch, worker-rss and before-after scenarios. */
function workerRows(r: BenchResult, pct: (p: Percentiles | null | undefined) => string): [string, string][] {
  const rows: [string, string][] = [];
  const w = r.workers;
  if (w) {
    rows.push([`workers vs in process, K=${r.options.steps} chain C=${w.concurrency}, ${w.workerProcesses} workers x ${w.slotsPerProcess} slots`, `${w.workers.stepsPerSec} vs ${w.inProcess.stepsPerSec} steps/s (ratio ${w.ratio}, pairs ${w.pairRatios.join(", ")})`]);
    for (const [name, k] of [["workers", w.workers], ["in process", w.inProcess]] as const) {
      const base = k.ratioToBaseline === null ? "" : `, ratio to pgbench ${k.ratioToBaseline}`;
      rows.push([`  ${name}: sagas/s, steps/s; rounds`, `${k.sagasPerSec}, ${k.stepsPerSec}${base}; ${k.roundsStepsPerSec.join(", ")}`]);
      rows.push([`  ${name}: create -> resting / step cycle, ms`, `${pct(k.latencyMs)} / p50 ${k.cycleMs.p50} p99 ${k.cycleMs.p99}`]);
      rows.push([`  ${name}: CPU ms per step sagad / client / postgres / workers`, `${k.cpu.msPerStep.sagad} / ${k.cpu.msPerStep.client} / ${k.cpu.msPerStep.postgres} / ${k.workerCpuMsPerStep}  (machine ${Math.round(k.cpu.machineBusyShare * 100)}% busy)`]);
      rows.push([`  ${name}: per step commits / statements / rows / WAL`, `${k.dbCost.commitsPerStep} / ${k.dbCost.statementsPerStep ?? "n/a"} / ${k.dbCost.rowsWrittenPerStep} / ${k.dbCost.walBytesPerStep} B`]);
    }
    rows.push([`  dispatch at C=${w.concurrency}, s1: ready -> arrived / handler, ms`, `${pct(w.dispatch.firstStep.readyToArrived)} / ${pct(w.dispatch.firstStep.readyToHandler)}`]);
    rows.push([`  dispatch at C=${w.concurrency}, s2..: ready -> arrived / handler, ms`, `${pct(w.dispatch.laterSteps.readyToArrived)} / ${pct(w.dispatch.laterSteps.readyToHandler)}`]);
    const perStep = (calls: number) => Math.round((calls / (w.sagasPerRound * r.options.steps)) * 100) / 100;
    for (const s of w.statements?.workers ?? []) {
      rows.push([`  workers pg: ${perStep(s.calls)}/step, exec ${s.meanExecMs} + plan ${s.meanPlanMs} ms, ${s.rowsPerCall} rows`, s.query.slice(0, 90)]);
    }
  }
  const d = r.dispatch;
  if (d) {
    for (const [name, b] of [["s1 (started by CreateSaga)", d.firstStep], ["s2.. (started by CompleteTask)", d.laterSteps]] as const) {
      rows.push([`dispatch C=1, ${name}: ready -> Task off the stream, ms`, pct(b.readyToArrived)]);
      rows.push([`  ready -> handler started (after AckTasks), ms`, pct(b.readyToHandler)]);
      rows.push([`  ready -> offered / offered -> arrived / arrived -> handler, p50 ms`, `${b.readyToOffered.p50} / ${b.offeredToArrived.p50} / ${b.arrivedToHandler.p50}  (p99 ${b.readyToOffered.p99} / ${b.offeredToArrived.p99} / ${b.arrivedToHandler.p99}; unmatched ${b.unmatched})`]);
    }
    rows.push([`  CreateSaga sent -> s1 arrived / handler, ms`, `${pct(d.createSentToArrived)} / p50 ${d.createSentToHandler.p50}`]);
    rows.push([`  C=1 create -> resting, workers / in process, ms`, `${pct(d.workersLatencyMs)} / ${pct(d.inProcessLatencyMs)}`]);
    rows.push([`  C=1 step cycle, workers / in process, ms`, `${pct(d.workersCycleMs)} / ${pct(d.inProcessCycleMs)}`]);
  }
  for (const x of r.workerRss ?? []) {
    rows.push([`replica RSS, ${x.sessions} worker sessions on ${x.connections} HTTP/2 connections`, `${x.baselineMiB} MiB with none -> ${x.attachedMiB} attached -> ${x.heldMiB} MiB held (${x.perSessionKiB} KiB/session)`]);
    rows.push([`  while held: cores sagad / postgres / holders, heartbeats/s, errors`, `${x.heldCores.sagad} / ${x.heldCores.postgres} / ${x.heldCores.holders}, ${x.heartbeatsPerSec}/s, ${x.heartbeatErrors} heartbeat + ${x.streamErrors} stream`]);
  }
  const b = r.beforeAfter;
  if (b) {
    rows.push([`in-process throughput ${b.afterCommit} vs ${b.beforeCommit}, C=${b.concurrency}`, `${b.after.stepsPerSec} vs ${b.before.stepsPerSec} steps/s (ratio ${b.ratio}, pairs ${b.pairRatios.join(", ")})`]);
    rows.push([`  rounds after / before`, `${b.after.roundsStepsPerSec.join(", ")} / ${b.before.roundsStepsPerSec.join(", ")}`]);
    rows.push([`  CPU ms per step sagad, after / before`, `${b.after.cpu.msPerStep.sagad} / ${b.before.cpu.msPerStep.sagad}`]);
  }
  return rows;
}
