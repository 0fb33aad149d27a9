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
