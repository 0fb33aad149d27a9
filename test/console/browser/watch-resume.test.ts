import { fromBinary } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { EventType, SagaStatus, WatchSagaRequestSchema, type SagaClient } from "../../../src/client/index.js";
import { startTcpProxy, type TcpProxy } from "../../helpers/tcp-proxy.js";
import { waitForStatus, waitUntil } from "../../helpers/wait.js";
import { useConsole } from "./console-page.js";

/** The WatchSaga request a Connect server-streaming POST carries: one envelope (5-byte prefix, then the message). */
function watchRequestOf(body: Buffer): { afterSequence: bigint | undefined; follow: boolean } {
  const request = fromBinary(WatchSagaRequestSchema, body.subarray(5));
  return { afterSequence: request.afterSequence, follow: request.follow };
}

/** Every event of the saga in order, read straight from sagad (not through the proxy). */
async function storedSequences(client: SagaClient, id: string): Promise<{ sequence: number; type: string }[]> {
  const events: { sequence: number; type: string }[] = [];
  for await (const message of client.watchSaga({ id, afterSequence: 0n })) {
    if (message.kind.case === "event") events.push({ sequence: Number(message.kind.value.sequence), type: EventType[message.kind.value.type] ?? "" });
  }
  return events;
}

/**
 * The saga page's stream, cut by the network in mid-saga: the page says it is reconnecting,
 * resumes after the last event it applied once the network is back, and ends with the saga's
 * whole history, every event exactly once, with no reload.
 */
describe("the saga page after a dropped WatchSaga, in Chromium", () => {
  const t = useConsole();
  let proxy: TcpProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  it("resumes from the last sequence it had: no gap, no duplicate, no reload", async () => {
    const client = t.srv.client();
    const steps = Array.from({ length: 8 }, (_, i) => ({
      name: `s${i + 1}`,
      action: "sleep",
      config: { duration: "300ms" },
      ...(i > 0 ? { dependsOn: [`s${i}`] } : {}),
    }));
    const { saga } = await client.createSaga({ name: "slow-chain", steps });
    const id = saga!.id;

    proxy = await startTcpProxy(t.srv.server.url);
    const tab = await t.open(proxy.url);
    const watches: Buffer[] = [];
    tab.page.on("request", (request) => {
      if (request.url().endsWith("/saga.v1.SagaService/WatchSaga")) watches.push(request.postDataBuffer() ?? Buffer.alloc(0));
    });
    await tab.signIn(t.srv.adminToken, `/console/sagas/${id}`);
    await expect.poll(() => tab.stepStatus("s1"), { timeout: 10_000 }).toMatch(/RUNNING|COMPLETED/);
    await expect.poll(() => tab.page.locator('[data-testid="connection"]').textContent()).toBe("live");
    const unchanged = await tab.markWindow();

    // The network goes down: every connection is reset and new ones hang, while the saga goes on.
    proxy.hold();
    expect(proxy.cut()).toBeGreaterThan(0);
    const atCut = Number((await client.getSaga({ id })).saga!.sequence);
    await expect.poll(() => tab.page.locator('[data-testid="connection"]').textContent(), { timeout: 5_000 }).toBe("reconnecting…");
    await waitUntil(async () => Number((await client.getSaga({ id })).saga!.sequence) >= atCut + 2, "the saga to move on while the page is cut off");
    await tab.screenshot("watch-resume-reconnecting");
    const watchesBeforeRelease = watches.length;

    proxy.release();
    await waitForStatus(client, id, SagaStatus.COMPLETED, 15_000);
    await expect.poll(() => tab.sagaStatus(), { timeout: 15_000 }).toBe("COMPLETED");
    await expect.poll(() => tab.page.locator('[data-testid="connection"]').textContent(), { timeout: 5_000 }).toBe("up to date");
    expect(await unchanged(), "the page resumed without a reload").toBe(true);

    // The first stream asked for everything; a later one resumed after a sequence the page had
    // (at or before the cut), not from the start.
    const requests = watches.map(watchRequestOf);
    expect(requests[0]).toEqual({ afterSequence: 0n, follow: true });
    expect(watches.length).toBeGreaterThan(Math.min(1, watchesBeforeRelease));
    const resumed = requests.slice(1).map((r) => Number(r.afterSequence));
    expect(resumed.length).toBeGreaterThan(0);
    expect(resumed.every((after) => after > 0 && after <= atCut), `resume points ${resumed} within 1..${atCut}`).toBe(true);

    await tab.page.getByRole("tab", { name: /History/ }).or(tab.page.getByRole("button", { name: /History/ })).first().click();
    const stored = await storedSequences(client, id);
    const lines = tab.page.locator('[data-testid="event-history"] li[data-sequence]');
    await expect.poll(() => lines.count(), { timeout: 5_000 }).toBe(stored.length);
    const shown = await lines.evaluateAll((items) =>
      items.map((li) => ({ sequence: Number(li.getAttribute("data-sequence")), type: li.getAttribute("data-event-type") ?? "" })),
    );
    expect(shown.map((e) => e.sequence)).toEqual(stored.map((_, i) => i + 1));
    expect(shown).toEqual(stored);
    await tab.screenshot("watch-resume-history");
    // Calls cut by the proxy show up as the browser's own network errors; nothing else may.
    tab.expectClean({ console: [/net::ERR_/, /Failed to fetch/] });
  });

  it("a GetSaga that fails is tried again: a resting saga's page does not stay blank", async () => {
    const client = t.srv.client();
    const { saga } = await client.createSaga({ name: "at-rest", steps: [{ name: "only", action: "noop" }] });
    const id = saga!.id;
    await waitForStatus(client, id, SagaStatus.COMPLETED);

    const tab = await t.open();
    await tab.signIn(t.srv.adminToken);
    // The first two GetSaga calls fail as a broken network would; WatchSaga is left alone.
    let refused = 0;
    await tab.page.route("**/saga.v1.SagaService/GetSaga**", async (route) => {
      if (refused < 2) {
        refused++;
        await route.abort("connectionreset");
      } else {
        await route.continue();
      }
    });
    await tab.page.getByRole("link", { name: "at-rest" }).click();
    await expect.poll(() => tab.sagaStatus(), { timeout: 10_000 }).toBe("COMPLETED");
    expect(refused).toBe(2);
    expect(await tab.stepStatus("only")).toBe("COMPLETED");
    tab.expectClean({ console: [/net::ERR_/] });
  });

  it("a hidden tab gives its stream back, and picks up where it left off when shown", async () => {
    const client = t.srv.client();
    const steps = Array.from({ length: 6 }, (_, i) => ({
      name: `h${i + 1}`,
      action: "sleep",
      config: { duration: "300ms" },
      ...(i > 0 ? { dependsOn: [`h${i}`] } : {}),
    }));
    const { saga } = await client.createSaga({ name: "hidden-tab", steps });
    const id = saga!.id;

    const tab = await t.open();
    const watches: Buffer[] = [];
    const failedWatches: string[] = [];
    tab.page.on("request", (request) => {
      if (request.url().endsWith("/WatchSaga")) watches.push(request.postDataBuffer() ?? Buffer.alloc(0));
    });
    tab.page.on("requestfailed", (request) => {
      if (request.url().endsWith("/WatchSaga")) failedWatches.push(request.failure()?.errorText ?? "");
    });
    // Headless tabs are always visible; the page's view of visibility is switched by hand here.
    await tab.context.addInitScript(() => {
      let state: DocumentVisibilityState = "visible";
      Object.defineProperty(document, "visibilityState", { get: () => state });
      (globalThis as unknown as { __setVisibility: (s: DocumentVisibilityState) => void }).__setVisibility = (next) => {
        state = next;
        document.dispatchEvent(new Event("visibilitychange"));
      };
    });
    const setVisibility = (state: "visible" | "hidden") =>
      tab.page.evaluate((s) => (globalThis as unknown as { __setVisibility: (s: string) => void }).__setVisibility(s), state);
    await tab.signIn(t.srv.adminToken, `/console/sagas/${id}`);
    await expect.poll(() => tab.stepStatus("h1"), { timeout: 10_000 }).toMatch(/RUNNING|COMPLETED/);
    expect(watches.length).toBe(1);

    await setVisibility("hidden");
    await expect.poll(() => failedWatches.length, { timeout: 5_000 }).toBe(1);
    const atHide = Number((await client.getSaga({ id })).saga!.sequence);
    await waitUntil(async () => Number((await client.getSaga({ id })).saga!.sequence) >= atHide + 2, "the saga to move on while the tab is hidden");
    expect(watches.length, "no stream while hidden").toBe(1);

    await setVisibility("visible");
    await waitForStatus(client, id, SagaStatus.COMPLETED, 15_000);
    await expect.poll(() => tab.sagaStatus(), { timeout: 15_000 }).toBe("COMPLETED");
    const resumed = watches.slice(1).map((body) => Number(watchRequestOf(body).afterSequence));
    expect(resumed.length).toBeGreaterThan(0);
    expect(resumed[0]! > 0 && resumed[0]! <= atHide, `resumed after ${resumed[0]}, hidden at ${atHide}`).toBe(true);

    await tab.page.getByRole("tab", { name: /History/ }).or(tab.page.getByRole("button", { name: /History/ })).first().click();
    const stored = await storedSequences(client, id);
    const lines = tab.page.locator('[data-testid="event-history"] li[data-sequence]');
    await expect.poll(() => lines.count(), { timeout: 5_000 }).toBe(stored.length);
    const shown = await lines.evaluateAll((items) => items.map((li) => Number(li.getAttribute("data-sequence"))));
    expect(shown).toEqual(stored.map((e) => e.sequence));
    tab.expectClean();
  });
});
