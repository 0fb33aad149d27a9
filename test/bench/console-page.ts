import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { CpuProfile } from "./console-profile.js";
import type { FrameSamples, LoadMarks, ProbeArgs } from "./console-probe.js";

/**
 * The sessionStorage key the console keeps its token under (src/console/session/token-storage.ts,
 * which the server-side tsconfig cannot import): a tab that signed in earlier, opening a deep link.
 */
const TOKEN_KEY = "sagad.console.token";

/** Wide enough for a 20-layer DAG to be laid out as an operator's screen would show it. */
const VIEWPORT = { width: 1440, height: 900 };

let probeSource: Promise<string> | undefined;

/** console-probe.ts as a classic script: esbuild, as the CORS browser test bundles its page. */
function probe(): Promise<string> {
  probeSource ??= build({
    entryPoints: [fileURLToPath(new URL("./console-probe.ts", import.meta.url))],
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "chrome120",
    write: false,
  }).then((out) => out.outputFiles[0]!.text);
  return probeSource;
}

/**
 * A fresh browser context (empty cache, as on a first visit) whose pages start signed in with
 * `token`, with the probe installed before the console's own scripts run.
 */
export async function signedInContext(browser: Browser, token: string, args: ProbeArgs): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: VIEWPORT });
  const setToken = `sessionStorage.setItem(${JSON.stringify(TOKEN_KEY)}, ${JSON.stringify(token)});`;
  await context.addInitScript({ content: `${setToken}\n${await probe()}\n__consoleBenchInstall(${JSON.stringify(args)});` });
  return context;
}

/** One JavaScript file a page load fetched, as it came over the wire. */
export interface FetchedScript {
  name: string;
  /** Bytes on the wire (the gzipped body when Content-Encoding is gzip). */
  encodedBytes: number;
  /** Bytes after decoding. */
  bytes: number;
  contentEncoding: string | null;
}

/** Every JavaScript file a first load of `path` fetched, and what the browser asked for. */
export interface FirstLoad {
  path: string;
  acceptEncoding: string | null;
  scripts: FetchedScript[];
  encodedBytes: number;
  bytes: number;
}

/**
 * Loads `path` in an empty-cache context, waits for `ready` and then `settleMs` more (chunks a page
 * imports lazily come after its first render), and sums the scripts fetched on the way.
 */
export async function firstLoad(browser: Browser, baseUrl: string, token: string, path: string, ready: string, settleMs = 1_500): Promise<FirstLoad> {
  const context = await signedInContext(browser, token, { steps: Number.MAX_SAFE_INTEGER, click: null });
  try {
    const page = await context.newPage();
    const pending: Promise<FetchedScript & { acceptEncoding: string | null }>[] = [];
    page.on("response", (response) => {
      const url = new URL(response.url());
      if (!url.pathname.endsWith(".js")) return;
      pending.push(
        (async () => {
          const [sizes, body, requestHeaders] = await Promise.all([response.request().sizes(), response.body(), response.request().allHeaders()]);
          return {
            name: url.pathname.split("/").at(-1)!,
            encodedBytes: sizes.responseBodySize,
            bytes: body.length,
            contentEncoding: response.headers()["content-encoding"] ?? null,
            acceptEncoding: requestHeaders["accept-encoding"] ?? null,
          };
        })(),
      );
    });
    await page.goto(new URL(path, baseUrl).href);
    await page.waitForSelector(ready, { timeout: 30_000 });
    await page.waitForTimeout(settleMs);
    const scripts = await Promise.all(pending);
    return {
      path,
      acceptEncoding: scripts[0]?.acceptEncoding ?? null,
      scripts: scripts.map(({ acceptEncoding: _, ...s }) => s),
      encodedBytes: scripts.reduce((sum, s) => sum + s.encodedBytes, 0),
      bytes: scripts.reduce((sum, s) => sum + s.bytes, 0),
    };
  } finally {
    await context.close();
  }
}

/** A page load's milestones, or how far it got before `error`. */
export interface TimedLoad {
  marks: LoadMarks;
  error: string | null;
}

const MARKS = "globalThis.__consoleBench.marks";

/**
 * Opens the saga page in an empty-cache context and waits until the probe has seen `args.steps`
 * nodes and, after clicking `args.click`, the step drawer painted; then reloads it once with the
 * cache warm.
 * Returns [cold, warm].
 */
export async function timeSagaPage(browser: Browser, baseUrl: string, token: string, sagaId: string, args: ProbeArgs, timeoutMs = 30_000): Promise<[TimedLoad, TimedLoad]> {
  const context = await signedInContext(browser, token, args);
  const measure = async (page: Page, load: () => Promise<unknown>): Promise<TimedLoad> => {
    let error: string | null = null;
    try {
      await load();
      await until(page, `${MARKS}.drawerPaintedAt !== null`, timeoutMs);
    } catch (err) {
      error = (err as Error).message.split("\n")[0]!;
    }
    return { marks: (await page.evaluate(MARKS)) as LoadMarks, error };
  };
  try {
    const page = await context.newPage();
    const cold = await measure(page, () => page.goto(sagaUrl(baseUrl, sagaId), { waitUntil: "commit" }));
    const warm = await measure(page, () => page.reload({ waitUntil: "commit" }));
    return [cold, warm];
  } finally {
    await context.close();
  }
}

/**
 * One more empty-cache load of the saga page under Chromium's CPU profiler (the DevTools
 * Profiler domain, sampling every 100 µs), until the drawer is painted. For finding where a load's
 * time goes, not for figures: the profiler slows the page down.
 */
export async function profileSagaPage(browser: Browser, baseUrl: string, token: string, sagaId: string, args: ProbeArgs): Promise<CpuProfile> {
  const context = await signedInContext(browser, token, args);
  try {
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("Profiler.enable");
    await cdp.send("Profiler.setSamplingInterval", { interval: 100 });
    await cdp.send("Profiler.start");
    await page.goto(sagaUrl(baseUrl, sagaId), { waitUntil: "commit" });
    await until(page, `${MARKS}.drawerPaintedAt !== null`, 30_000);
    return (await cdp.send("Profiler.stop")).profile;
  } finally {
    await context.close();
  }
}

/** A saga page left open while its saga runs, recording frames from `start()` until `take()`. */
export interface WatchedPage {
  /** When its nodes were first painted, ms since navigation start. */
  readyAt: number;
  start(): Promise<void>;
  take(): Promise<FrameSamples & { statusCounts: Record<string, number> }>;
  close(): Promise<void>;
}

/** The saga page's tabs a watched saga is measured on; each renders only its own panel. */
export type SagaView = "Graph" | "Timeline" | "History";

/**
 * Opens the saga page, waits for its `steps` nodes (the Graph tab is the default view), then
 * switches to `view`.
 */
export async function watchSagaPage(browser: Browser, baseUrl: string, token: string, sagaId: string, steps: number, view: SagaView, timeoutMs = 30_000): Promise<WatchedPage> {
  const context = await signedInContext(browser, token, { steps, click: null });
  try {
    const page = await context.newPage();
    await page.goto(sagaUrl(baseUrl, sagaId), { waitUntil: "commit" });
    await until(page, `${MARKS}.nodesPaintedAt !== null`, timeoutMs);
    const readyAt = (await page.evaluate(`${MARKS}.nodesPaintedAt`)) as number;
    if (view !== "Graph") {
      await page.getByRole("tab", { name: new RegExp(`^${view}`) }).click();
      await page.locator(`[role="tabpanel"]#panel-${view}`).waitFor({ timeout: timeoutMs });
    }
    return {
      readyAt,
      start: async () => void (await page.evaluate("globalThis.__consoleBench.startFrames()")),
      take: async () => {
        const samples = (await page.evaluate("globalThis.__consoleBench.takeFrames()")) as FrameSamples;
        const statuses = (await page.evaluate(`[...document.querySelectorAll("[data-step]")].map((e) => e.getAttribute("data-status"))`)) as string[];
        const statusCounts: Record<string, number> = {};
        for (const s of statuses) statusCounts[s] = (statusCounts[s] ?? 0) + 1;
        return { ...samples, statusCounts };
      },
      close: () => context.close(),
    };
  } catch (err) {
    await context.close();
    throw err;
  }
}

/**
 * Polls `expression` in the page until it is true. Not page.waitForFunction: that evaluates a
 * string predicate with eval inside the page, which the console's CSP (rightly) refuses, and a
 * function predicate would carry tsx's name helpers into the page.
 */
async function until(page: Page, expression: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate(`Boolean(globalThis.__consoleBench && ${expression})`))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${expression}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function sagaUrl(baseUrl: string, sagaId: string): string {
  return new URL(`/console/sagas/${encodeURIComponent(sagaId)}`, baseUrl).href;
}
