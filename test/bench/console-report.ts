import os from "node:os";
import { CONSOLE_TARGETS, type ConsoleResult } from "./console.js";
import type { Percentiles } from "./stats.js";

/** The console scenario's lines of the readable summary (stderr), after the bench's own table. */
export function printConsoleTable(r: ConsoleResult, baselineTps: number | null): void {
  const rows: [string, string][] = [];
  const kb = (bytes: number) => `${(bytes / 1000).toFixed(1)} kB`;
  const pct = (p: Percentiles) => `p50 ${p.p50}  p99 ${p.p99}  max ${p.max}  (n=${p.count})`;
  const yes = (met: boolean) => (met ? "met" : "MISSED");
  if (baselineTps !== null) rows.push(["console: pgbench baseline of this run", `${baselineTps} TPS`]);
  rows.push(["console: load average (1 min) at start / end", `${r.loadAverage.start} / ${r.loadAverage.end}`]);
  rows.push([`console: built scripts, gzipped (all ${r.build.js.length})`, `${kb(r.build.jsGzipBytes)} (${kb(r.build.jsBytes)} raw), CSS ${kb(r.build.cssGzipBytes)}${r.build.changedDuringRun ? "  (REBUILT by someone during the run)" : ""}`]);
  for (const l of r.firstLoads) {
    if ("error" in l) rows.push([`console: first load ${l.path}`, `not measured: ${l.error}`]);
    else rows.push([`console: first load ${l.path.slice(0, 24)}, scripts on the wire`, `${kb(l.encodedBytes)} in ${l.scripts.length} files (${kb(l.bytes)} decoded, ${l.scripts[0]?.contentEncoding ?? "identity"})`]);
  }
  rows.push([`  target ≤ ${kb(CONSOLE_TARGETS.firstLoadJsGzipBytes)}`, yes(r.targets.met.firstLoad)]);
  const i = r.interactive;
  if ("error" in i) {
    rows.push(["console: 200-step saga page", `not measured: ${i.error}`]);
  } else {
    for (const [name, m] of [["cold", i.coldMedian], ["warm", i.warmMedian]] as const) {
      rows.push([`console: ${i.saga.steps}-step page, ${name}, median ms: scripts / GetSaga / shell / nodes / painted`, `${m.scriptsLoadedMs} / ${m.getSagaAnsweredMs} / ${m.shellMs} / ${m.nodesMs} / ${m.nodesPaintedMs}`]);
      rows.push([`  ${name}: dagre layout (the page's measure); click → drawer painted; navigation → drawer (interactive)`, `${m.dagLayoutMs} ms; ${m.clickToDrawerMs} ms; ${m.interactiveMs} ms`]);
    }
    rows.push([`  cold loads, interactive ms`, i.cold.map((l) => l.interactiveMs ?? "x").join(", ")]);
    rows.push([`  longest frame while loading, cold median`, `${i.coldMedian.longestFrameMs} ms (${i.coldMedian.slowFrames} slow frames)`]);
    rows.push([`  target ≤ ${CONSOLE_TARGETS.interactiveMs} ms (cold median)`, yes(r.targets.met.interactive)]);
  }
  for (const [n, x] of r.eventRate.rounds.entries()) {
    rows.push([`console: events ${n + 1}, ${x.view} tab: ${x.eventsPerSec} events/s for ${x.windowMs} ms, frame ms`, `${pct(x.frameMs)}; >50 ms: ${x.framesOver50Ms}, >100 ms: ${x.framesOver100Ms}`]);
    rows.push([`  slow frames (LoAF), longest; status lag ms`, `${x.slowFrames}, ${x.longestSlowFrameMs} ms; ${x.statusLagMs ? pct(x.statusLagMs) : "-"}`]);
    rows.push([`  cores sagad / bench / postgres / Chromium; whole machine`, `${x.cores.sagad} / ${x.cores.client} / ${x.cores.postgres} / ${x.cores.chromium}; ${x.cores.machine} of ${os.cpus().length}`]);
  }
  for (const e of r.eventRate.errors) rows.push(["console: events round failed", e]);
  rows.push([`  target: no frame over ${CONSOLE_TARGETS.maxFrameMs} ms`, yes(r.targets.met.frames)]);
  if (r.profile) {
    const list = (xs: [string, number][]) => xs.slice(0, 6).map(([k, ms]) => `${k} ${ms}`).join(", ");
    rows.push([`console: profiled cold load (${r.profile.summary.sampledMs} ms sampled), self ms by source`, list(r.profile.summary.bySource)]);
    rows.push([`  console functions, callees included, ms`, list(r.profile.summary.consoleInclusive)]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  process.stderr.write(`\n${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n")}\n`);
}
