import http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { build as bundle } from "esbuild";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../helpers/browser.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import type { CallsResult } from "./browser/cors-page.js";

/**
 * A web app on another origin calls sagad from a real headless Chromium through
 * @connectrpc/connect-web: CreateSaga (unary) and WatchSaga (a server stream, read to the end),
 * over Connect and over gRPC-Web. With the page's origin in --cors-origins it works; without, the
 * browser refuses the very same calls.
 */
describe("a page on another origin, in Chromium", () => {
  let browser: Browser;
  let pageServer: http.Server;
  let pageOrigin: string;
  let allowing: TestServer;
  let refusing: TestServer;

  beforeAll(async () => {
    const script = await bundle({
      entryPoints: [fileURLToPath(new URL("./browser/cors-page.ts", import.meta.url))],
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "chrome120",
      write: false,
    });
    const js = script.outputFiles[0]!.text;
    pageServer = http.createServer((req, res) => {
      if (req.url === "/app.js") {
        res.writeHead(200, { "Content-Type": "text/javascript" });
        res.end(js);
      } else {
        res.writeHead(200, { "Content-Type": "text/html" });
        res.end('<!doctype html><title>app</title><script type="module" src="/app.js"></script>');
      }
    });
    await new Promise<void>((resolve) => pageServer.listen(0, "127.0.0.1", resolve));
    // Another port is another origin.
    pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
    allowing = await startTestServer({ corsOrigins: [pageOrigin] });
    refusing = await startTestServer({ database: allowing.db });
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await refusing?.close();
    await allowing?.close();
    await new Promise((resolve) => pageServer?.close(resolve));
  });

  const callFromPage = async (server: TestServer, protocol: "connect" | "grpc-web"): Promise<{ result: CallsResult; console: string[] }> => {
    const page: Page = await browser.newPage();
    const console: string[] = [];
    page.on("console", (msg) => console.push(msg.text()));
    try {
      await page.goto(pageOrigin);
      await page.waitForFunction(() => "sagadCalls" in globalThis);
      const result = await page.evaluate(
        ([url, token, proto]) =>
          (globalThis as unknown as { sagadCalls: (u: string, t: string, p: string) => Promise<CallsResult> }).sagadCalls(url!, token!, proto!),
        [server.server.url, server.adminToken, protocol],
      );
      return { result, console };
    } finally {
      await page.close();
    }
  };

  for (const protocol of ["connect", "grpc-web"] as const) {
    it(`${protocol}: creates a saga and watches it to the end when the origin is allowed`, async () => {
      const { result, console } = await callFromPage(allowing, protocol);
      expect(result, console.join("\n")).toMatchObject({ ok: true, status: "COMPLETED" });
      expect(result.events?.[0]).toBe("SAGA_CREATED");
      expect(result.events?.at(-1)).toBe("SAGA_STATUS_CHANGED");
      expect(result.events?.filter((e) => e === "STEP_COMPLETED")).toHaveLength(2);
    }, 30_000);

    it(`${protocol}: the same page is refused by a sagad without --cors-origins`, async () => {
      const before = (await refusing.client().listSagas({ name: `browser-${protocol}` })).sagas.length;
      const { result, console } = await callFromPage(refusing, protocol);
      expect(result.ok).toBe(false);
      expect(result.error).toMatch(/^Unknown: .*(fetch|network)/i);
      expect(console.join("\n")).toMatch(/CORS policy/);
      // The preflight failed, so the browser never sent the create.
      expect((await refusing.client().listSagas({ name: `browser-${protocol}` })).sagas).toHaveLength(before);
    }, 30_000);
  }
});
