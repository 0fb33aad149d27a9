import { describe, expect, it } from "vitest";
import { SagaStatus } from "../../../src/client/index.js";
import { waitForStatus } from "../../helpers/wait.js";
import { connectWorker } from "../../workers/worker-harness.js";
import { useConsole } from "./console-page.js";

/** What waits and why: the Workers page lists a connected session, the Circuits page an open breaker. */
describe("the workers and circuits pages, in Chromium", () => {
  const t = useConsole({ breaker: { failures: 1, openMs: 60_000 } });

  it("shows a connected worker with its actions and slots, and an OPEN breaker with its error", async () => {
    const worker = await connectWorker(t.srv.workers(), "console-fleet", ["billing.charge", "billing.refund"], 4);
    try {
      const client = t.srv.client();
      const { saga } = await client.createSaga({
        name: "trips",
        steps: [{ name: "f", action: "http", config: { url: "http://127.0.0.1:1/down" }, retryPolicy: { maxAttempts: 1 } }],
      });
      await waitForStatus(client, saga!.id, SagaStatus.FAILED);

      const tab = await t.open();
      await tab.signIn(t.srv.adminToken, "/console/workers");
      const row = tab.page.locator(`tr[data-worker="${worker.sessionId}"]`);
      await row.waitFor({ timeout: 10_000 });
      const text = await row.textContent();
      expect(text).toContain(worker.instanceId);
      expect(text).toContain("billing.charge");
      expect(text).toContain("billing.refund");
      expect(text).toContain("0/4");
      await tab.screenshot("workers-page");

      await tab.page.getByRole("link", { name: "Circuits" }).click();
      const circuit = tab.page.locator("tr[data-circuit]").first();
      await circuit.waitFor({ timeout: 10_000 });
      expect(await circuit.getAttribute("data-state")).toBe("OPEN");
      expect(await circuit.textContent()).toContain("127.0.0.1:1");
      await tab.screenshot("circuits-page");
      tab.expectClean();
    } finally {
      await worker.close();
    }
  });
});
