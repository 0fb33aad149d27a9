import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Browser } from "playwright-core";
import { EventType, type SagaClient, type SagaEvent } from "../../src/client/index.js";
import { launchChromium } from "../helpers/browser.js";
import { assetNames, buildConsole, builtAssets, type BuiltAssets } from "./console-bundle.js";
import { firstLoad, profileSagaPage, timeSagaPage, watchSagaPage, type FirstLoad, type SagaView, type TimedLoad } from "./console-page.js";
import type { FrameSamples } from "./console-probe.js";
import { summarizeProfile, type ProfileSummary } from "./console-profile.js";
import { createSaga, historyUntilRest, MESH_200, meshStepName, meshSteps, stepStatusCounts, STREAM_100, streamSteps } from "./console-sagas.js";
import { chromiumCpuMs } from "./console-cpu.js";
import { cpuCost, cpuSnapshot, type CpuCost } from "./cpu-usage.js";
import { ms } from "./drive.js";
import { median, medianRound, percentiles, round, type Percentiles } from "./stats.js";

/** The issue's targets. */
export const CONSOLE_TARGETS = { firstLoadJsGzipBytes: 300_000, interactiveMs: 1_000, maxFrameMs: 100 } as const;

/** One page load of the 200-step saga, ms since navigation start. */
export interface InteractiveLoad {
  /** The last script fetched, and GetSaga answered (Resource Timing). */
  scriptsLoadedMs: number | null;
  getSagaAnsweredMs: number | null;
  /** The signed-in shell rendered (WhoAmI answered). */
  shellMs: number | null;
  /** Every DAG node in the DOM, then painted. */
  nodesMs: number | null;
  nodesPaintedMs: number | null;
  /** The click on a node → the step drawer painted. */
  clickToDrawerMs: number | null;
  /** Navigation start → the drawer painted after the click: the headline. */
  interactiveMs: number | null;
  /** The page's "dag-layout" measure (dagre's time, as the DAG view times it); null if it has none. */
  dagLayoutMs: number | null;
  /** Slow frames (long-animation-frame) during the load: how many, the longest. */
  slowFrames: number;
  longestFrameMs: number;
  /** The scripts that ran longest in the longest frame (LoAF attribution). */
  longestFrameScripts: string[];
  error: string | null;
}

export interface InteractiveResult {
  saga: { id: string; steps: number; edges: number; statuses: Record<string, number> };
  clicked: string;
  /** Empty cache, as a first visit; then the same tab reloaded (scripts cached). */
  cold: InteractiveLoad[];
  warm: InteractiveLoad[];
  /** Medians over the loads that got there. */
  coldMedian: Omit<InteractiveLoad, "error" | "longestFrameScripts">;
  warmMedian: Omit<InteractiveLoad, "error" | "longestFrameScripts">;
}

/** One saga streaming events into a page that watches it. */
export interface EventRateRound {
  /** The tab open while the events streamed in. */
  view: SagaView;
  sagaId: string;
  steps: number;
  /** Events committed between the gate completing and the saga resting, per second of that window. */
  eventsPerSec: number;
  windowMs: number;
  events: number;
  /** The page's nodes painted, ms after navigation start (before the stream began). */
  pageReadyMs: number;
  /** requestAnimationFrame intervals inside the window: a frame is as long as its interval. */
  frameMs: Percentiles;
  framesOver50Ms: number;
  framesOver100Ms: number;
  /** long-animation-frame entries that started inside the window. */
  slowFrames: number;
  longestSlowFrameMs: number;
  longestSlowFrameScripts: string[];
  /** Event committed → the node's data-status in the page showing it (STEP_COMPLETED events; Graph only). */
  statusLagMs: Percentiles | null;
  /** Step statuses the page showed at the end (all COMPLETED if it kept up). */
  pageStatuses: Record<string, number>;
  /** Cores used while the saga ran: sagad, the bench process, postgres, our Chromium, and the whole machine (anything else running too). */
  cores: CpuCost["cores"] & { chromium: number };
}

export interface EventRateResult {
  shape: typeof STREAM_100;
  /** Every round of every view: the Graph tab (the default view) first, then Timeline and History. */
  rounds: EventRateRound[];
  /** Per view, the round with the median longest frame. */
  medians: EventRateRound[];
  errors: string[];
}

/** Graph is the page's default and the headline; the Gantt and the history redraw as events come too. */
const VIEWS: readonly SagaView[] = ["Graph", "Timeline", "History"];

export interface ConsoleResult {
  /** The machine's 1-minute load average when the scenario began and ended: page times swing with it. */
  loadAverage: { start: number; end: number };
  build: BuiltAssets & { changedDuringRun: boolean };
  /** The sagas list and the 200-step saga's page, each loaded with an empty cache. */
  firstLoads: (FirstLoad | { path: string; error: string })[];
  interactive: InteractiveResult | { error: string };
  eventRate: EventRateResult;
  /** With `--profile`: one more cold load of the 200-step page under the CPU profiler, by source. */
  profile: { file: string; summary: ProfileSummary } | null;
  targets: { firstLoadJsGzipBytes: number | null; interactiveMs: number | null; maxFrameMs: number | null; met: { firstLoad: boolean; interactive: boolean; frames: boolean } };
}

export interface ConsoleOptions {
  /** Empty-cache loads of the 200-step saga's page (each followed by one warm reload). */
  loads: number;
  /** Event-rate rounds, each its own saga and page. */
  rounds: number;
  /** `--profile`: also write a Chromium CPU profile of one more cold load of the 200-step page there. */
  profileDir: string | null;
}

/**
 * The console's figures in headless Chromium against a real sagad: first load's JavaScript, the
 * 200-step saga's page made interactive, and frames while one saga streams ~100 events/s.
 */
export async function consoleScenario(baseUrl: string, token: string, client: SagaClient, sagadPid: number, options: ConsoleOptions, log: (msg: string) => void): Promise<ConsoleResult> {
  const loadAtStart = round(os.loadavg()[0]!, 2);
  log("console: npm run build:console");
  await buildConsole();
  const namesBefore = await assetNames();
  const assets = await builtAssets();
  log(`console: built ${assets.js.length} scripts, ${assets.jsGzipBytes} B gzipped`);
  log(`console: the ${MESH_200.layers * MESH_200.width}-step saga`);
  const steps = meshSteps(MESH_200);
  const meshId = await createSaga(client, "bench-console-mesh", steps);
  await historyUntilRest(client, meshId);
  const browser = await launchChromium();
  try {
    const firstLoads: ConsoleResult["firstLoads"] = [];
    for (const [path, ready] of [["/console/", '[data-testid="who"]'], [`/console/sagas/${meshId}`, "[data-step]"]] as const) {
      log(`console: first load of ${path}`);
      firstLoads.push(await firstLoad(browser, baseUrl, token, path, ready).catch((err: Error) => ({ path, error: err.message.split("\n")[0]! })));
    }
    const clicked = meshStepName(MESH_200.failAtLayer, 0);
    const interactive = await interactiveLoads(browser, baseUrl, token, { id: meshId, steps, clicked }, client, options.loads, log).catch((err: Error) => ({ error: err.message.split("\n")[0]! }));
    let profile: ConsoleResult["profile"] = null;
    if (options.profileDir) {
      const stamp = Date.now();
      const file = path.resolve(options.profileDir, `console-saga-page-${stamp}.cpuprofile`);
      await mkdir(options.profileDir, { recursive: true });
      const cpu = await profileSagaPage(browser, baseUrl, token, meshId, { steps: steps.length, click: clicked });
      await writeFile(file, JSON.stringify(cpu));
      profile = { file, summary: await summarizeProfile(cpu, path.resolve(options.profileDir, `console-sourcemapped-${stamp}`)) };
      log(`console: CPU profile of a cold load of the 200-step page in ${file}: ${profile.summary.bySource.slice(0, 4).map(([s, ms]) => `${s} ${ms} ms`).join(", ")}`);
    }
    const eventRate = await eventRateRounds(browser, baseUrl, token, client, sagadPid, options.rounds, log);
    const changedDuringRun = (await assetNames()).join() !== namesBefore.join();
    return { loadAverage: { start: loadAtStart, end: round(os.loadavg()[0]!, 2) }, build: { ...assets, changedDuringRun }, firstLoads, interactive, eventRate, profile, targets: targets(firstLoads, interactive, eventRate) };
  } finally {
    await browser.close();
  }
}

async function interactiveLoads(
  browser: Browser,
  baseUrl: string,
  token: string,
  saga: { id: string; steps: ReturnType<typeof meshSteps>; clicked: string },
  client: SagaClient,
  loads: number,
  log: (msg: string) => void,
): Promise<InteractiveResult> {
  const cold: InteractiveLoad[] = [];
  const warm: InteractiveLoad[] = [];
  for (let i = 1; i <= loads; i++) {
    const [c, w] = await timeSagaPage(browser, baseUrl, token, saga.id, { steps: saga.steps.length, click: saga.clicked });
    cold.push(summarize(c));
    warm.push(summarize(w));
    log(`console: 200-step page load ${i}: interactive at ${cold.at(-1)!.interactiveMs ?? cold.at(-1)!.error} ms cold, ${warm.at(-1)!.interactiveMs ?? warm.at(-1)!.error} ms warm`);
  }
  return {
    saga: { id: saga.id, steps: saga.steps.length, edges: saga.steps.reduce((n, s) => n + (s.dependsOn?.length ?? 0), 0), statuses: await stepStatusCounts(client, saga.id) },
    clicked: saga.clicked,
    cold,
    warm,
    coldMedian: medians(cold),
    warmMedian: medians(warm),
  };
}

function summarize(load: TimedLoad): InteractiveLoad {
  const m = load.marks;
  const r = (t: number | null) => (t === null ? null : round(t, 1));
  const longest = [...m.slowFrames].sort((a, b) => b.durationMs - a.durationMs)[0];
  return {
    scriptsLoadedMs: r(m.scriptsLoadedAt),
    getSagaAnsweredMs: r(m.getSagaAnsweredAt),
    shellMs: r(m.shellAt),
    nodesMs: r(m.nodesAt),
    nodesPaintedMs: r(m.nodesPaintedAt),
    clickToDrawerMs: m.clickedAt !== null && m.drawerPaintedAt !== null ? round(m.drawerPaintedAt - m.clickedAt, 1) : null,
    interactiveMs: r(m.drawerPaintedAt),
    dagLayoutMs: r(m.measures.filter(([name]) => name === "dag-layout").reduce<number | null>((sum, [, ms]) => (sum ?? 0) + ms, null)),
    slowFrames: m.slowFrames.length,
    longestFrameMs: round(longest?.durationMs ?? 0, 1),
    longestFrameScripts: longest?.scripts ?? [],
    error: load.error,
  };
}

function medians(loads: InteractiveLoad[]): InteractiveResult["coldMedian"] {
  const of = (key: keyof InteractiveResult["coldMedian"]) => {
    const values = loads.map((l) => l[key]).filter((v): v is number => typeof v === "number");
    return values.length === 0 ? null : round(median(values), 1);
  };
  return {
    scriptsLoadedMs: of("scriptsLoadedMs"),
    getSagaAnsweredMs: of("getSagaAnsweredMs"),
    shellMs: of("shellMs"),
    nodesMs: of("nodesMs"),
    nodesPaintedMs: of("nodesPaintedMs"),
    clickToDrawerMs: of("clickToDrawerMs"),
    interactiveMs: of("interactiveMs"),
    dagLayoutMs: of("dagLayoutMs"),
    slowFrames: of("slowFrames") ?? 0,
    longestFrameMs: of("longestFrameMs") ?? 0,
  };
}

async function eventRateRounds(browser: Browser, baseUrl: string, token: string, client: SagaClient, sagadPid: number, rounds: number, log: (msg: string) => void): Promise<EventRateResult> {
  const result: EventRateRound[] = [];
  const errors: string[] = [];
  for (const view of VIEWS) {
    for (let r = 1; r <= rounds; r++) {
      try {
        result.push(await eventRateRound(browser, baseUrl, token, client, sagadPid, view));
        const x = result.at(-1)!;
        log(`console: events, ${view} tab, round ${r}: ${x.eventsPerSec} events/s, frames p99 ${x.frameMs.p99} max ${x.frameMs.max} ms, status lag p99 ${x.statusLagMs?.p99 ?? "-"} ms`);
      } catch (err) {
        errors.push(`${view} tab: ${(err as Error).message.split("\n")[0]!}`);
        log(`console: events, ${view} tab, round ${r} failed: ${errors.at(-1)}`);
      }
    }
  }
  const medians = VIEWS.map((v) => result.filter((x) => x.view === v)).filter((xs) => xs.length > 0).map((xs) => medianRound(xs, (x) => x.frameMs.max));
  return { shape: STREAM_100, rounds: result, medians, errors };
}

async function eventRateRound(browser: Browser, baseUrl: string, token: string, client: SagaClient, sagadPid: number, view: SagaView): Promise<EventRateRound> {
  const steps = streamSteps(STREAM_100);
  const id = await createSaga(client, "bench-console-stream", steps);
  const history = historyUntilRest(client, id);
  // Read to the end whatever happens to the page, so no stream is left to fail at shutdown.
  const page = await watchSagaPage(browser, baseUrl, token, id, steps.length, view).catch(async (err: Error) => {
    await history.catch(() => undefined);
    throw err;
  });
  try {
    await page.start();
    const cpuBefore = await cpuSnapshot([sagadPid]);
    const chromiumBefore = await chromiumCpuMs();
    const events = await history;
    const cpuAfter = await cpuSnapshot([sagadPid]);
    const chromium = (await chromiumCpuMs()) - chromiumBefore;
    const cpu = cpuCost(cpuBefore, cpuAfter, steps.length);
    // The page's last updates may trail the last commit; give them a moment before reading.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const samples = await page.take();
    const gateDone = events.find((e) => e.type === EventType.STEP_COMPLETED && e.step === "gate");
    if (!gateDone) throw new Error("the gate step never completed");
    const from = ms(gateDone);
    const to = ms(events.at(-1)!);
    if (samples.frames.length === 0 || samples.frames[0]![0] > from) throw new Error(`the page was not ready before the stream began (nodes painted ${round(page.readyAt, 0)} ms after navigation)`);
    return {
      view,
      sagaId: id,
      steps: steps.length,
      ...rate(events, from, to),
      pageReadyMs: round(page.readyAt, 1),
      ...frames(samples, from, to),
      statusLagMs: view === "Graph" ? statusLag(events, samples) : null,
      pageStatuses: samples.statusCounts,
      cores: { ...cpu.cores, chromium: round(chromium / (cpuAfter.at - cpuBefore.at), 2) },
    };
  } finally {
    await page.close();
    await history.catch(() => undefined);
  }
}

function rate(events: readonly SagaEvent[], from: number, to: number) {
  const inWindow = events.filter((e) => ms(e) > from && ms(e) <= to).length;
  return { events: inWindow, windowMs: round(to - from, 0), eventsPerSec: round(inWindow / ((to - from) / 1000), 1) };
}

function frames(samples: FrameSamples, from: number, to: number) {
  const deltas = samples.frames.filter(([at]) => at > from && at <= to).map(([, d]) => d);
  const slow = samples.slowFrames.filter((f) => f.at > from && f.at <= to).sort((a, b) => b.durationMs - a.durationMs);
  return {
    frameMs: percentiles(deltas),
    framesOver50Ms: deltas.filter((d) => d > 50).length,
    framesOver100Ms: deltas.filter((d) => d > 100).length,
    slowFrames: slow.length,
    longestSlowFrameMs: round(slow[0]?.durationMs ?? 0, 1),
    longestSlowFrameScripts: slow[0]?.scripts ?? [],
  };
}

/** For each STEP_COMPLETED: its commit time → the page first showing that node COMPLETED. */
function statusLag(events: readonly SagaEvent[], samples: FrameSamples): Percentiles {
  const shown = new Map<string, number>();
  for (const [step, status, at] of samples.statusChanges) if (status === "COMPLETED" && !shown.has(step)) shown.set(step, at);
  const lags: number[] = [];
  for (const e of events) {
    const at = e.type === EventType.STEP_COMPLETED ? shown.get(e.step) : undefined;
    if (at !== undefined) lags.push(at - ms(e));
  }
  return percentiles(lags);
}

function targets(firstLoads: ConsoleResult["firstLoads"], interactive: ConsoleResult["interactive"], eventRate: EventRateResult): ConsoleResult["targets"] {
  const loaded = firstLoads.filter((l): l is FirstLoad => "scripts" in l);
  const js = loaded.length > 0 ? Math.max(...loaded.map((l) => l.encodedBytes)) : null;
  const tti = "cold" in interactive ? interactive.coldMedian.interactiveMs : null;
  const maxFrame = eventRate.rounds.length > 0 ? Math.max(...eventRate.rounds.map((r) => r.frameMs.max)) : null;
  return {
    firstLoadJsGzipBytes: js,
    interactiveMs: tti,
    maxFrameMs: maxFrame,
    met: {
      firstLoad: js !== null && js <= CONSOLE_TARGETS.firstLoadJsGzipBytes,
      interactive: tti !== null && tti <= CONSOLE_TARGETS.interactiveMs,
      frames: maxFrame !== null && maxFrame <= CONSOLE_TARGETS.maxFrameMs,
    },
  };
}
