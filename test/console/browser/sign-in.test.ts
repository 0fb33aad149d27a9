import { describe, expect, it } from "vitest";
import { CONSOLE_CSP } from "../../../src/api/console-files.js";
import { refusedCall, useConsole } from "./console-page.js";

/**
 * Signing in: an unknown token is told so and kept nowhere; a good one opens the Sagas page and
 * lives in this tab's sessionStorage only (not the URL, a cookie or localStorage).
 */
describe("console sign-in, in Chromium", () => {
  const t = useConsole();

  it("refuses an unknown token, saying so, and keeps nothing", async () => {
    const tab = await t.open();
    const response = await tab.page.goto(`${t.srv.server.url}/`);
    expect(tab.page.url()).toBe(`${t.srv.server.url}/console/`);
    expect(response?.headers()["content-security-policy"]).toBe(CONSOLE_CSP);
    await tab.page.locator('input[name="token"]').fill("sagad_0000000000000000_not-a-real-token");
    await tab.page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => tab.page.getByRole("alert").textContent(), { timeout: 10_000 }).toMatch(/does not know this token/);
    await tab.screenshot("sign-in-unknown-token");
    expect(await tab.page.locator('[data-testid="who"]').count()).toBe(0);
    expect(await tab.page.evaluate(() => ({ session: sessionStorage.length, local: localStorage.length }))).toEqual({ session: 0, local: 0 });
    tab.expectClean({ console: [refusedCall(401)] });
  });

  it("signs in with a good token: the Sagas page, the token in sessionStorage only", async () => {
    const tab = await t.open();
    await tab.signIn(t.srv.adminToken);
    await expect.poll(() => tab.page.locator('[data-testid="who"]').textContent()).toContain(t.srv.adminTokenName);
    expect(new URL(tab.page.url()).pathname).toBe("/console/");
    await tab.page.getByRole("heading", { name: "Sagas" }).waitFor({ timeout: 10_000 });
    await tab.screenshot("sign-in-sagas-page");

    const storage = await tab.page.evaluate(() => ({
      session: Object.fromEntries(Object.entries(sessionStorage)),
      local: Object.fromEntries(Object.entries(localStorage)),
      cookie: document.cookie,
    }));
    expect(Object.values(storage.session)).toContain(t.srv.adminToken);
    expect(JSON.stringify(storage.local)).not.toContain(t.srv.adminToken);
    expect(storage.cookie).toBe("");
    expect(await tab.context.cookies()).toEqual([]);
    expect(tab.page.url()).not.toContain(t.srv.adminToken);
    expect(tab.requestUrls.length).toBeGreaterThan(0);
    expect(tab.requestUrls.filter((u) => u.includes(t.srv.adminToken))).toEqual([]);

    // A reload in the same tab keeps the session (sessionStorage), without asking again.
    await tab.page.reload();
    await tab.page.locator('[data-testid="who"]').waitFor({ timeout: 10_000 });
    expect(await tab.page.locator('input[name="token"]').count()).toBe(0);

    // Signing out forgets it.
    await tab.page.getByRole("button", { name: "Sign out" }).click();
    await tab.page.locator('input[name="token"]').waitFor({ timeout: 5_000 });
    expect(await tab.page.evaluate(() => Object.values(sessionStorage))).not.toContain(t.srv.adminToken);
    tab.expectClean();
  });
});
