import { describe, expect, it } from "vitest";
import { SagaStatus } from "../../../src/client/index.js";
import { waitForStatus, waitUntil } from "../../helpers/wait.js";
import { useConsole } from "./console-page.js";

/**
 * The step drawer in a real Chromium: after a RetrySaga the node and the drawer count attempts
 * within the round ("1/1", "1 of 1 (2nd overall)"), the drawer takes focus when a node opens it,
 * and gives it back to that node when it closes.
 */
describe("the step drawer, in Chromium", () => {
  const t = useConsole();

  it("counts attempts per round after RetrySaga, and moves focus in and back out", async () => {
    const client = t.srv.client();
    const { saga } = await client.createSaga({
      name: "drawer",
      maxRetries: 2,
      steps: [{ name: "charge", action: "http", config: { url: "http://127.0.0.1:1/charge", method: "POST" }, retryPolicy: { maxAttempts: 1 } }],
    });
    const id = saga!.id;
    await waitForStatus(client, id, SagaStatus.FAILED);
    await client.retrySaga({ id });
    await waitUntil(async () => {
      const s = (await client.getSaga({ id })).saga!;
      return s.status === SagaStatus.FAILED && s.steps[0]!.retryCount === 2;
    }, "the retried saga did not fail again");

    const tab = await t.open();
    await tab.signIn(t.srv.adminToken, `/console/sagas/${id}`);
    await expect.poll(() => tab.sagaStatus(), { timeout: 10_000 }).toBe("FAILED");
    const node = tab.node("charge");
    await expect.poll(() => node.locator(".dag-attempt").textContent(), { timeout: 5_000 }).toBe("1/1");

    // A click opens the drawer with focus on its heading; Escape closes it and focus returns.
    await node.click();
    const drawer = tab.page.locator('[data-testid="step-drawer"]');
    await drawer.waitFor({ timeout: 5_000 });
    await expect.poll(() => drawer.textContent()).toContain("1 of 1 (2nd overall)");
    const focused = () => tab.page.evaluate(() => {
      const el = document.activeElement;
      return el ? `${el.tagName.toLowerCase()}:${el.getAttribute("data-step") ?? el.textContent ?? ""}` : "";
    });
    await expect.poll(focused).toBe("h2:charge");
    await tab.page.keyboard.press("Escape");
    await drawer.waitFor({ state: "detached", timeout: 5_000 });
    await expect.poll(focused).toBe("g:charge");

    // Enter on the focused node opens it again; the close button gives focus back the same way.
    await tab.page.keyboard.press("Enter");
    await drawer.waitFor({ timeout: 5_000 });
    await expect.poll(focused).toBe("h2:charge");
    await drawer.getByRole("button", { name: "Close step details" }).click();
    await drawer.waitFor({ state: "detached", timeout: 5_000 });
    await expect.poll(focused).toBe("g:charge");
    tab.expectClean();
  });
});
