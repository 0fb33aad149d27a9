import { describe, expect, it } from "vitest";
import { SagaStatus } from "../../../src/client/index.js";
import { waitForStatus } from "../../helpers/wait.js";
import { confirmButton, fillDialog, useConsole } from "./console-page.js";

/** A step that fails at once and for good: nothing listens on port 1, and one attempt is allowed. */
const FAILING_CHARGE = {
  name: "charge",
  action: "http",
  dependsOn: ["reserve"],
  config: { url: "http://127.0.0.1:1/charge", method: "POST" },
  retryPolicy: { maxAttempts: 1 },
};

/**
 * An operator steering sagas from the console in a real Chromium: a failed saga is found in the
 * list, its failed step skipped with a stand-in output, and the page follows it to COMPLETED live;
 * a running saga is cancelled and its compensation watched in reverse order.
 */
describe("steering sagas from the console, in Chromium", () => {
  const t = useConsole();

  it("a failed http step: FAILED in the list, marked in the DAG, skipped with an output, COMPLETED live", async () => {
    const client = t.srv.client();
    const { saga } = await client.createSaga({
      name: "checkout",
      steps: [{ name: "reserve", action: "noop" }, FAILING_CHARGE, { name: "ship", action: "noop", dependsOn: ["charge"] }],
    });
    const id = saga!.id;
    await waitForStatus(client, id, SagaStatus.FAILED);

    const tab = await t.open();
    await tab.signIn(t.srv.adminToken);
    const row = tab.page.locator(`tr[data-saga-id="${id}"]`);
    await expect.poll(() => row.locator("[data-status]").first().getAttribute("data-status"), { timeout: 10_000 }).toBe("FAILED");
    await tab.screenshot("steer-list-failed");

    await row.getByRole("link", { name: "checkout" }).click();
    await expect.poll(() => tab.sagaStatus(), { timeout: 10_000 }).toBe("FAILED");
    expect(await tab.stepStatus("charge")).toBe("FAILED");
    expect(await tab.stepStatus("reserve")).toBe("COMPLETED");
    const unchanged = await tab.markWindow();

    await tab.node("charge").click();
    const drawer = tab.page.locator('[data-testid="step-drawer"]');
    await drawer.waitFor({ timeout: 5_000 });
    await expect.poll(() => drawer.textContent()).toContain("127.0.0.1:1");
    await tab.screenshot("steer-failed-step-drawer");

    // Pan the graph (a drag on empty canvas): the next click on a node must still open it.
    const canvas = tab.page.locator("svg.dag-svg").first();
    const box = (await canvas.boundingBox())!;
    const before = await canvas.locator(":scope > g").getAttribute("transform");
    await tab.page.mouse.move(box.x + 8, box.y + box.height - 8);
    await tab.page.mouse.down();
    await tab.page.mouse.move(box.x + 60, box.y + box.height - 30, { steps: 5 });
    await tab.page.mouse.up();
    expect(await canvas.locator(":scope > g").getAttribute("transform")).not.toBe(before);
    await tab.node("reserve").click();
    await expect.poll(() => drawer.locator("h2, h3").first().textContent()).toContain("reserve");
    await tab.node("charge").click();
    await expect.poll(() => drawer.locator("h2, h3").first().textContent()).toContain("charge");
    await drawer.getByRole("button", { name: "Skip step" }).click();
    const dialog = await fillDialog(tab.page, { output: '{"receipt": "by-phone-0042"}', reason: "charged by phone, ticket 4711" });
    await confirmButton(dialog).click();

    await expect.poll(() => tab.sagaStatus(), { timeout: 15_000 }).toBe("COMPLETED");
    expect(await tab.stepStatus("charge")).toBe("SKIPPED");
    expect(await tab.stepStatus("ship")).toBe("COMPLETED");
    expect(await unchanged(), "the page followed the saga without a reload").toBe(true);
    // What cannot be done to a COMPLETED saga is written out, not only in a disabled button's title.
    const why = tab.page.locator('[aria-label="Saga actions"] details.action-why');
    await why.locator("summary").click({ timeout: 5_000 });
    expect(await why.locator("li").allTextContents()).toContainEqual(expect.stringMatching(/^Cancel saga: .{10,}/));
    await tab.page.getByRole("tab", { name: /History/ }).or(tab.page.getByRole("button", { name: /History/ })).first().click();
    const skipped = tab.page.locator('[data-testid="event-history"] li[data-event-type="STEP_SKIPPED"]');
    await expect.poll(() => skipped.textContent(), { timeout: 5_000 }).toContain("charged by phone, ticket 4711");
    await tab.screenshot("steer-completed-history");

    const stored = (await client.getSaga({ id })).saga!;
    expect(stored.outputs.charge).toEqual({ receipt: "by-phone-0042" });
    tab.expectClean();
  });

  it("cancel a running saga: its completed steps are compensated in reverse order, live", async () => {
    const client = t.srv.client();
    const undo = { action: "sleep", config: { duration: "300ms" } };
    const { saga } = await client.createSaga({
      name: "provision",
      steps: [
        { name: "a", action: "noop", compensate: undo },
        { name: "b", action: "noop", dependsOn: ["a"], compensate: undo },
        { name: "c", action: "sleep", dependsOn: ["b"], config: { duration: "10m" } },
      ],
    });
    const id = saga!.id;

    const tab = await t.open();
    await tab.signIn(t.srv.adminToken, `/console/sagas/${id}`);
    await expect.poll(() => tab.stepStatus("c"), { timeout: 10_000 }).toBe("RUNNING");
    // Record, in the page, the order in which the nodes reach COMPENSATED.
    await tab.page.evaluate(() => {
      const seen: string[] = [];
      (globalThis as unknown as { __compensated: string[] }).__compensated = seen;
      const check = () => {
        for (const node of document.querySelectorAll("[data-step][data-status='COMPENSATED']")) {
          const name = node.getAttribute("data-step")!;
          if (!seen.includes(name)) seen.push(name);
        }
      };
      new MutationObserver(check).observe(document.body, { subtree: true, attributes: true, attributeFilter: ["data-status"], childList: true });
    });

    await tab.page.getByRole("button", { name: "Cancel saga" }).click();
    const dialog = await fillDialog(tab.page, { reason: "customer withdrew" });
    await confirmButton(dialog).click();

    await expect.poll(() => tab.sagaStatus(), { timeout: 15_000 }).toBe("CANCELLED");
    const order = await tab.page.evaluate(() => (globalThis as unknown as { __compensated: string[] }).__compensated);
    expect(order).toEqual(["b", "a"]);
    expect(await tab.stepStatus("c")).toBe("CANCELLED");
    await tab.screenshot("steer-cancelled-compensated");
    tab.expectClean();
  });
});
