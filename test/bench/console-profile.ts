import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
// Comes with vite (through postcss); only this diagnostic reads it.
import { SourceMapConsumer } from "source-map-js";
import { buildConsole } from "./console-bundle.js";

/** A V8 CPU profile as the DevTools Profiler domain returns it (the fields read here). */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }; children?: number[] }[];
  samples?: number[];
  timeDeltas?: number[];
}

/** Where a profiled load spent its CPU, by original source. */
export interface ProfileSummary {
  sampledMs: number;
  /** Self time per npm package or console source file, and V8's own "(program)", "(garbage collector)". */
  bySource: [string, number][];
  /** Time inside each console function, callees included, largest first. */
  consoleInclusive: [string, number][];
}

type Original = { source: string; line: number; name: string | undefined };

/**
 * Builds the console again with source maps into `dir`: the same minified code at the same
 * positions as the files served (whose build has no maps), so a profile of the served page maps
 * back to the sources.
 */
async function sourceMaps(dir: string): Promise<(url: string, line: number, column: number) => Original | null> {
  await buildConsole(["--outDir", dir, "--sourcemap", "--emptyOutDir"]);
  const maps = new Map<string, SourceMapConsumer>();
  for (const file of await readdir(path.join(dir, "assets"))) {
    if (file.endsWith(".js.map")) maps.set(file.slice(0, -".map".length), new SourceMapConsumer(JSON.parse(await readFile(path.join(dir, "assets", file), "utf8"))));
  }
  return (url, line, column) => {
    const map = url.includes("/console/assets/") ? maps.get(url.split("/").at(-1)!) : undefined;
    const pos = map?.originalPositionFor({ line: line + 1, column });
    return pos?.source ? { source: pos.source, line: pos.line, name: pos.name } : null;
  };
}

/** Sums a profile's samples by original source, so "where did the load go" has a short answer. */
export async function summarizeProfile(profile: CpuProfile, mapDir: string): Promise<ProfileSummary> {
  const original = await sourceMaps(mapDir);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfMs = new Map<number, number>();
  (profile.samples ?? []).forEach((id, i) => selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas?.[i] ?? 0) / 1000));

  const where = (id: number): { source: string; fn: string | null } => {
    const cf = byId.get(id)!.callFrame;
    const pos = original(cf.url, cf.lineNumber, cf.columnNumber);
    if (!pos) return { source: cf.url === "" ? cf.functionName || "(native)" : "browser", fn: null };
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(pos.source)?.[1];
    if (pkg) return { source: pkg, fn: null };
    const file = pos.source.replace(/^.*src\/console\//, "console/");
    return { source: file, fn: `${pos.name ?? (cf.functionName || "(anonymous)")} ${file}:${pos.line}` };
  };
  const bySource = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, ms] of selfMs) {
    const at = where(id);
    bySource.set(at.source, (bySource.get(at.source) ?? 0) + ms);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const fn = where(cur).fn;
      if (fn && !seen.has(fn)) {
        seen.add(fn);
        inclusive.set(fn, (inclusive.get(fn) ?? 0) + ms);
      }
    }
  }
  const top = (m: Map<string, number>, n: number): [string, number][] =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => [k, Math.round(v)]);
  return { sampledMs: Math.round([...selfMs.values()].reduce((a, b) => a + b, 0)), bySource: top(bySource, 12), consoleInclusive: top(inclusive, 12) };
}
