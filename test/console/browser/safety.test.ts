import { describe, expect, it } from "vitest";
import { SagaStatus } from "../../../src/client/index.js";
import { CONSOLE_CSP } from "../../../src/api/console-files.js";
import { waitForStatus } from "../../helpers/wait.js";
import { confirmButton, fillDialog, refusedCall, useConsole } from "./console-page.js";

const HOSTILE = `<script>window.__xss=1</script><img src=x onerror="window.__xss=2"><b>bold</b>`;

/**
 * What the console must never do: act for a token that may not act (and hide why), or run what a
 * saga's data holds. Outputs are untrusted (any worker or HTTP service writes them).
 */
describe("console safety, in Chromium", () => {
  const t = useConsole();

  it("a read-only token sees the actions disabled and why, and a refused call names the scope", async () => {
    const client = t.srv.client();
    const { saga } = await client.createSaga({
      name: "held",
      steps: [{ name: "f", action: "http", config: { url: "http://127.0.0.1:1/x" }, retryPolicy: { maxAttempts: 1 } }],
    });
    await waitForStatus(client, saga!.id, SagaStatus.FAILED);
    const reader = await t.srv.issueToken(["sagas:read"], "reader");

    const tab = await t.open();
    await tab.signIn(reader.token, `/console/sagas/${saga!.id}`);
    await expect.poll(() => tab.sagaStatus(), { timeout: 10_000 }).toBe("FAILED");
    await tab.page.locator('[data-testid="read-only-note"]').waitFor({ timeout: 5_000 });
    expect(await tab.page.locator('[data-testid="read-only-note"]').textContent()).toMatch(/sagas:execute/);
    for (const name of ["Retry saga", "Roll back", "Cancel saga"]) {
      const button = tab.page.getByRole("button", { name });
      expect(await button.isDisabled(), name).toBe(true);
      expect(await button.getAttribute("title"), name).toMatch(/sagas:execute/);
    }
    await tab.node("f").click();
    const drawer = tab.page.locator('[data-testid="step-drawer"]');
    await drawer.waitFor({ timeout: 5_000 });
    for (const name of ["Retry step", "Skip step"]) {
      const button = drawer.getByRole("button", { name });
      expect(await button.isDisabled(), name).toBe(true);
      expect(await button.getAttribute("title"), name).toMatch(/sagas:execute/);
    }
    await tab.screenshot("read-only-saga");

    // The server is the judge: a button forced back on gets PERMISSION_DENIED, shown with the scope.
    const retry = tab.page.getByRole("button", { name: "Retry saga" });
    await retry.evaluate((el) => el.removeAttribute("disabled"));
    await retry.click();
    const dialog = await fillDialog(tab.page, { reason: "trying anyway" });
    await confirmButton(dialog).click();
    const alert = dialog.getByRole("alert");
    await expect.poll(() => alert.textContent(), { timeout: 10_000 }).toMatch(/sagas:execute/);
    expect((await client.getSaga({ id: saga!.id })).saga!.status).toBe(SagaStatus.FAILED);
    await tab.screenshot("read-only-refused");
    tab.expectClean({ console: [refusedCall(403)] });
  });

  it("an output holding <script> and HTML renders as inert text, and the CSP holds", async () => {
    const client = t.srv.client();
    const { saga } = await client.createSaga({
      name: "hostile",
      steps: [{ name: "evil", action: "http", config: { url: "http://127.0.0.1:1/x" }, retryPolicy: { maxAttempts: 1 } }],
    });
    const id = saga!.id;
    await waitForStatus(client, id, SagaStatus.FAILED);
    await client.skipStep({ id, step: "evil", output: { html: HOSTILE }, reason: HOSTILE });
    await waitForStatus(client, id, SagaStatus.COMPLETED);

    const tab = await t.open();
    const response = await tab.page.goto(`${t.srv.server.url}/console/sagas/${id}`);
    expect(response?.headers()["content-security-policy"]).toBe(CONSOLE_CSP);
    await tab.signIn(t.srv.adminToken, `/console/sagas/${id}`);
    await expect.poll(() => tab.sagaStatus(), { timeout: 10_000 }).toBe("COMPLETED");
    await tab.node("evil").click();
    const drawer = tab.page.locator('[data-testid="step-drawer"]');
    await expect.poll(() => drawer.textContent(), { timeout: 5_000 }).toContain("<script>window.__xss=1</script>");
    await tab.page.getByRole("tab", { name: /History/ }).or(tab.page.getByRole("button", { name: /History/ })).first().click();
    await expect.poll(() => tab.page.locator('[data-testid="event-history"]').textContent(), { timeout: 5_000 }).toContain("<img src=x");
    await tab.screenshot("xss-inert");

    expect(await tab.page.evaluate(() => (globalThis as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await tab.page.locator("main img, main b").count(), "no element was made from the output").toBe(0);

    // The policy itself: an inline script added to the page is refused and reported.
    await tab.page.addScriptTag({ content: "window.__inline = 1;" }).catch(() => {});
    expect(await tab.page.evaluate(() => (globalThis as unknown as { __inline?: number }).__inline)).toBeUndefined();
    await expect.poll(() => tab.violations.some((v) => v.directive === "script-src-elem" || v.directive === "script-src")).toBe(true);
    tab.expectClean({
      console: [/inline script violates the following Content Security Policy|Refused to execute inline script/],
      violation: (v) => v.directive.startsWith("script-src") && v.blockedURI === "inline",
    });
  });
});
