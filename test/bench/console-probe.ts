/**
 * Runs inside the console's page, from document start (bundled by esbuild and given to Playwright
 * as an init script by console-page.ts). Timing from inside the page keeps Playwright's round
 * trips out of the figures: every time here is `performance.now()`, i.e. ms since the navigation
 * started, and the absolute times are the page's wall clock, comparable with sagad's event times
 * (same machine).
 *
 * The root tsconfig has no DOM types (the server code must not see them), so the few browser APIs
 * used are typed by {@link PageGlobals} below.
 */

/** What console-page.ts asks of the probe. */
export interface ProbeArgs {
  /** DAG nodes to wait for: the page counts as rendered once this many `[data-step]` are in the DOM. */
  steps: number;
  /** After they are, click this node and wait for the step drawer; null: only time the render. */
  click: string | null;
}

/** A slow frame as Chromium reports it (long-animation-frame, or longtask where LoAF is missing). */
export interface SlowFrame {
  kind: "long-animation-frame" | "longtask";
  /** Wall clock (ms since the epoch) of its start. */
  at: number;
  durationMs: number;
  blockingMs: number;
  /** The scripts that ran longest in it (LoAF attribution): function name and source. */
  scripts: string[];
}

/** Milestones of one page load, ms since navigation start; null if never reached. */
export interface LoadMarks {
  /** The signed-in shell (WhoAmI answered, header rendered). */
  shellAt: number | null;
  /** Every DAG node in the DOM. */
  nodesAt: number | null;
  /** The frame after that (the nodes painted). */
  nodesPaintedAt: number | null;
  clickedAt: number | null;
  /** `[data-testid="step-drawer"]` in the DOM after the click. */
  drawerAt: number | null;
  drawerPaintedAt: number | null;
  /** The last script and the GetSaga answer as Resource Timing saw them. */
  scriptsLoadedAt: number | null;
  getSagaAnsweredAt: number | null;
  /** The page's own `performance.measure` entries by then (e.g. "dag-layout"): [name, ms]. */
  measures: [string, number][];
  slowFrames: SlowFrame[];
}

/** What the page did while events streamed in (frames mode). */
export interface FrameSamples {
  /** [wall clock of the frame, ms since the previous frame] for every requestAnimationFrame tick. */
  frames: [number, number][];
  slowFrames: SlowFrame[];
  /** [step, status, wall clock] each time a node's data-status changed. */
  statusChanges: [string, string, number][];
}

interface PageElement {
  getAttribute(name: string): string | null;
  getBoundingClientRect(): { left: number; top: number; width: number; height: number };
  dispatchEvent(event: unknown): boolean;
}

interface PerfEntry {
  entryType: string;
  name: string;
  startTime: number;
  duration: number;
  responseEnd?: number;
  initiatorType?: string;
  blockingDuration?: number;
  scripts?: { duration: number; invoker: string; sourceURL: string; sourceFunctionName: string }[];
}

interface MutationRecord {
  type: string;
  target: PageElement;
  attributeName: string | null;
}

interface PageGlobals {
  document: {
    querySelectorAll(selector: string): { length: number };
    querySelector(selector: string): PageElement | null;
  };
  performance: { now(): number; timeOrigin: number; getEntriesByType(type: string): PerfEntry[] };
  requestAnimationFrame(callback: (time: number) => void): number;
  setTimeout(callback: () => void, ms: number): number;
  MutationObserver: new (callback: (records: MutationRecord[]) => void) => { observe(target: unknown, options: object): void };
  PerformanceObserver: (new (callback: (list: { getEntries(): PerfEntry[] }) => void) => { observe(options: object): void }) & {
    supportedEntryTypes: readonly string[];
  };
  PointerEvent: new (type: string, init: object) => unknown;
  MouseEvent: new (type: string, init: object) => unknown;
  __consoleBench?: ConsoleBench;
}

/** The handle console-page.ts reads through page.evaluate. */
export interface ConsoleBench {
  marks: LoadMarks;
  /** Starts recording frames and status changes (frames mode). */
  startFrames(): void;
  /** Stops and returns what was recorded since startFrames. */
  takeFrames(): FrameSamples;
}

const page = globalThis as unknown as PageGlobals;
const NODE = "[data-step]";
const DRAWER = '[data-testid="step-drawer"]';
const SHELL = '[data-testid="who"]';

function install(args: ProbeArgs): void {
  const now = () => page.performance.now();
  const wall = (t: number) => page.performance.timeOrigin + t;
  const marks: LoadMarks = {
    shellAt: null, nodesAt: null, nodesPaintedAt: null, clickedAt: null, drawerAt: null, drawerPaintedAt: null,
    scriptsLoadedAt: null, getSagaAnsweredAt: null, measures: [], slowFrames: [],
  };
  let recording: FrameSamples | null = null;
  const afterPaint = (then: (t: number) => void) => page.requestAnimationFrame(() => page.setTimeout(() => then(now()), 0));

  const slow = new page.PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const frame: SlowFrame = {
        kind: e.entryType === "long-animation-frame" ? "long-animation-frame" : "longtask",
        at: wall(e.startTime),
        durationMs: e.duration,
        blockingMs: e.blockingDuration ?? Math.max(0, e.duration - 50),
        scripts: (e.scripts ?? [])
          .sort((a, b) => b.duration - a.duration)
          .slice(0, 3)
          .map((s) => `${Math.round(s.duration)} ms ${s.sourceFunctionName || s.invoker} ${s.sourceURL.split("/").at(-1) ?? ""}`),
      };
      (recording ?? marks).slowFrames.push(frame);
    }
  });
  const loaf = page.PerformanceObserver.supportedEntryTypes.includes("long-animation-frame");
  slow.observe({ type: loaf ? "long-animation-frame" : "longtask", buffered: true });

  const click = (target: PageElement) => {
    // A real click's sequence, at the node's centre, for whichever of these events the page listens to.
    const box = target.getBoundingClientRect();
    const init = { bubbles: true, cancelable: true, composed: true, clientX: box.left + box.width / 2, clientY: box.top + box.height / 2, button: 0, isPrimary: true, pointerType: "mouse" };
    for (const type of ["pointerdown", "mousedown", "pointerup", "mouseup", "click"]) {
      target.dispatchEvent(type.startsWith("pointer") ? new page.PointerEvent(type, init) : new page.MouseEvent(type, init));
    }
  };

  const onMutations = (records: MutationRecord[]) => {
    if (recording) {
      for (const r of records) {
        if (r.type !== "attributes" || r.attributeName !== "data-status") continue;
        const step = r.target.getAttribute("data-step");
        if (step !== null) recording.statusChanges.push([step, r.target.getAttribute("data-status") ?? "", wall(now())]);
      }
    }
    if (marks.shellAt === null && page.document.querySelector(SHELL)) marks.shellAt = now();
    if (marks.nodesAt === null && page.document.querySelectorAll(NODE).length >= args.steps) {
      marks.nodesAt = now();
      afterPaint((t) => {
        marks.nodesPaintedAt = t;
        const target = args.click === null ? null : page.document.querySelector(`[data-step="${args.click}"]`);
        if (target) {
          marks.clickedAt = now();
          click(target);
        }
      });
    }
    if (marks.clickedAt !== null && marks.drawerAt === null && page.document.querySelector(DRAWER)) {
      marks.drawerAt = now();
      afterPaint((t) => {
        marks.drawerPaintedAt = t;
        const resources = page.performance.getEntriesByType("resource");
        const ends = (match: (e: PerfEntry) => boolean) => {
          const hits = resources.filter(match).map((e) => e.responseEnd ?? 0);
          return hits.length > 0 ? Math.max(...hits) : null;
        };
        marks.scriptsLoadedAt = ends((e) => e.name.endsWith(".js"));
        marks.getSagaAnsweredAt = ends((e) => e.name.includes("/GetSaga"));
        marks.measures = page.performance.getEntriesByType("measure").map((e) => [e.name, e.duration]);
      });
    }
  };
  new page.MutationObserver(onMutations).observe(page.document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-status"] });

  const tick = (previous: number) => (t: number) => {
    if (!recording) return;
    recording.frames.push([wall(t), t - previous]);
    page.requestAnimationFrame(tick(t));
  };
  page.__consoleBench = {
    marks,
    startFrames() {
      recording = { frames: [], slowFrames: [], statusChanges: [] };
      page.requestAnimationFrame((t) => page.requestAnimationFrame(tick(t)));
    },
    takeFrames() {
      const taken = recording ?? { frames: [], slowFrames: [], statusChanges: [] };
      recording = null;
      return taken;
    },
  };
}

(globalThis as unknown as { __consoleBenchInstall: typeof install }).__consoleBenchInstall = install;
