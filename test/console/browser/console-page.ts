import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import { launchChromium } from "../../helpers/browser.js";
import { startTestServer, type TestServer, type TestServerOptions } from "../../helpers/server.js";

/** Where the browser tests keep their screenshots (CI keeps the folder as an artifact). */
export const ARTIFACTS_DIR = path.resolve(import.meta.dirname, "../../../test-artifacts/console");

/** What the page's `securitypolicyviolation` event said. */
export interface CspViolation {
  directive: string;
  blockedURI: string;
  sample: string;
}

/** A console error or page error that no test asked for is a failure, whatever the test checks. */
export interface Allowed {
  /** Console errors matching any of these are expected (e.g. the browser's "status of 401" line for a refused call). */
  console?: readonly RegExp[];
  /** Violations this test provoked on purpose. */
  violation?: (v: CspViolation) => boolean;
}

/**
 * One operator's browser tab on the console, in a fresh context (no storage shared with other
 * tests), recording every page error, console error and CSP violation from the first script on,
 * so {@link ConsoleTab.expectClean} can fail a test that looked right but logged a crash.
 */
export class ConsoleTab {
  readonly pageErrors: string[] = [];
  readonly consoleErrors: string[] = [];
  readonly violations: CspViolation[] = [];
  /** Every URL the page requested; a token must never be in one. */
  readonly requestUrls: string[] = [];

  private constructor(
    readonly baseUrl: string,
    readonly context: BrowserContext,
    readonly page: Page,
  ) {}

  static async open(browser: Browser, baseUrl: string): Promise<ConsoleTab> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const tab = new ConsoleTab(baseUrl, context, page);
    page.on("pageerror", (err) => tab.pageErrors.push(`${err.name}: ${err.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error") tab.consoleErrors.push(`${msg.text()} (${msg.location().url})`);
    });
    page.on("request", (req) => tab.requestUrls.push(req.url()));
    // A binding (not a page global) survives navigations and cannot be overwritten by the page.
    await context.exposeBinding("__sagadCspViolation", (_source, v: CspViolation) => {
      tab.violations.push(v);
    });
    await context.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (e) => {
        const report = (globalThis as unknown as { __sagadCspViolation: (v: unknown) => void }).__sagadCspViolation;
        report({ directive: e.effectiveDirective, blockedURI: e.blockedURI, sample: e.sample });
      });
    });
    return tab;
  }

  /** Opens `pathname` (default the Sagas page) and signs in there, as an operator following a link would. */
  async signIn(token: string, pathname = "/console/"): Promise<void> {
    await this.page.goto(`${this.baseUrl}${pathname}`);
    await this.page.locator('input[name="token"]').fill(token);
    await this.page.getByRole("button", { name: "Sign in" }).click();
    await this.page.locator('[data-testid="who"]').waitFor({ timeout: 15_000 });
  }

  /**
   * Leaves a marker on `window`: it is still there later only if the page never reloaded (a
   * client-side route change keeps it, a navigation wipes it).
   */
  async markWindow(): Promise<() => Promise<boolean>> {
    await this.page.evaluate(() => ((globalThis as unknown as { __sagadMarker: string }).__sagadMarker = "no reload"));
    return () => this.page.evaluate(() => (globalThis as unknown as { __sagadMarker?: string }).__sagadMarker === "no reload");
  }

  /** The saga page's overall status (the badge in `[data-testid="saga-status"]`). */
  sagaStatus(): Promise<string | null> {
    return this.page
      .locator('[data-testid="saga-status"] [data-status]')
      .first()
      .getAttribute("data-status", { timeout: 1_000 })
      .catch(() => null);
  }

  /** The DAG node of `step` (the first `[data-step]` element with that name). */
  node(step: string): Locator {
    return this.page.locator(`[data-step="${step}"]`).first();
  }

  /** The status a DAG node shows, or null while it is not drawn. */
  stepStatus(step: string): Promise<string | null> {
    return this.node(step)
      .getAttribute("data-status", { timeout: 1_000 })
      .catch(() => null);
  }

  /** Saves a full-page PNG to test-artifacts/console/<name>.png. */
  async screenshot(name: string): Promise<string> {
    await mkdir(ARTIFACTS_DIR, { recursive: true });
    const file = path.join(ARTIFACTS_DIR, `${name}.png`);
    await this.page.screenshot({ path: file, fullPage: true });
    return file;
  }

  /** Fails on any page error, console error or CSP violation the test did not say it expects. */
  expectClean(allowed: Allowed = {}): void {
    const consoleErrors = this.consoleErrors.filter((text) => !(allowed.console ?? []).some((re) => re.test(text)));
    const violations = this.violations.filter((v) => !allowed.violation?.(v));
    expect({ pageErrors: this.pageErrors, consoleErrors, violations }).toEqual({ pageErrors: [], consoleErrors: [], violations: [] });
  }

  async close(): Promise<void> {
    await this.context.close();
  }
}

/** The browser's own console line for a call the server refused with `status` (Connect maps codes to HTTP statuses). */
export function refusedCall(status: number): RegExp {
  return new RegExp(`Failed to load resource: the server responded with a status of ${status}\\b`);
}

/** Fills a dialog's field: `<textarea name=…>` (or input) inside the open `role="dialog"`. */
export async function fillDialog(page: Page, fields: Record<string, string>): Promise<Locator> {
  const dialog = page.getByRole("dialog");
  await dialog.waitFor({ timeout: 5_000 });
  for (const [name, value] of Object.entries(fields)) await dialog.locator(`[name="${name}"]`).fill(value);
  return dialog;
}

/** The dialog's confirm button (its name starts with "Confirm"). */
export function confirmButton(dialog: Locator): Locator {
  return dialog.getByRole("button", { name: /^Confirm/ });
}

/** What a browser test file works with: its own sagad, one Chromium, a fresh tab per test. */
export interface ConsoleFixture {
  readonly srv: TestServer;
  /**
   * A tab in a fresh context; closed after the test (screenshotted first if the test failed).
   * `baseUrl` (default the server's) lets a test put something between the browser and sagad.
   */
  open(baseUrl?: string): Promise<ConsoleTab>;
}

/**
 * Registers the hooks of a browser test file: a real sagad (serving this run's console build)
 * and a headless Chromium for the whole file, and a fresh browser context for every test.
 */
export function useConsole(options: TestServerOptions = {}): ConsoleFixture {
  let srv: TestServer | undefined;
  let browser: Browser | undefined;
  const tabs: ConsoleTab[] = [];
  beforeAll(async () => {
    [srv, browser] = await Promise.all([startTestServer(options), launchChromium()]);
  }, 60_000);
  afterEach(async (context) => {
    for (const tab of tabs.splice(0)) {
      if (context.task.result?.state === "fail") {
        const name = context.task.name.replace(/[^A-Za-z0-9]+/g, "-").slice(0, 80);
        await tab.screenshot(`failed-${name}`).catch(() => {});
      }
      await tab.close();
    }
  });
  afterAll(async () => {
    await browser?.close();
    await srv?.close();
  });
  return {
    get srv() {
      if (!srv) throw new Error("the test server is not up (beforeAll failed?)");
      return srv;
    },
    async open(baseUrl?: string) {
      if (!browser || !srv) throw new Error("the browser is not up (beforeAll failed?)");
      const tab = await ConsoleTab.open(browser, baseUrl ?? srv.server.url);
      tabs.push(tab);
      return tab;
    },
  };
}
