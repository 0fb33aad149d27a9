import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { SagaStatus } from "../../../src/client/index.js";
import { waitForStatus } from "../../helpers/wait.js";
import { useConsole } from "./console-page.js";

/** The ids of the rows on screen, top to bottom. */
function rowIds(page: Page): Promise<string[]> {
  return page.locator("tr[data-saga-id]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-saga-id") ?? ""));
}

function query(page: Page): URLSearchParams {
  return new URL(page.url()).searchParams;
}

/**
 * The Sagas page as an operator uses it: filters typed in the bar go into the URL (so a reload,
 * a shared link and Back give the same list), cursor pages walk the whole filtered list with no
 * saga twice, a filter the page cannot read is named and asks nothing of the server, and rows
 * change status in place.
 */
describe("the Sagas list: filters in the URL and cursor pages, in Chromium", () => {
  const t = useConsole();

  it("filters by name, labels and status, walks Older/Newer over 60 sagas, and keeps it all in the URL", async () => {
    const client = t.srv.client();
    const paged: string[] = [];
    for (let i = 0; i < 60; i++) {
      const { saga } = await client.createSaga({ name: "paged", labels: { batch: i % 2 === 0 ? "even" : "odd" }, steps: [{ name: "a", action: "noop" }] });
      paged.push(saga!.id);
    }
    const failing = await client.createSaga({
      name: "paged",
      labels: { batch: "even" },
      steps: [{ name: "a", action: "http", config: { url: "http://127.0.0.1:1/x" }, retryPolicy: { maxAttempts: 1 } }],
    });
    await waitForStatus(client, failing.saga!.id, SagaStatus.FAILED);
    const slow = await client.createSaga({ name: "slow", steps: [{ name: "nap", action: "sleep", config: { duration: "4s" } }] });
    const newestFirst = [failing.saga!.id, ...[...paged].reverse()];

    const tab = await t.open();
    const { page } = tab;
    const lists: string[] = [];
    page.on("request", (r) => {
      if (r.url().includes("/saga.v1.SagaService/ListSagas")) lists.push(r.url());
    });
    await tab.signIn(t.srv.adminToken);
    const unchanged = await tab.markWindow();

    // A row changes status in place: the slow saga is RUNNING, then COMPLETED, no reload.
    const slowRow = page.locator(`tr[data-saga-id="${slow.saga!.id}"] [data-status]`).first();
    await expect.poll(() => slowRow.getAttribute("data-status"), { timeout: 10_000 }).toBe("RUNNING");
    await expect.poll(() => slowRow.getAttribute("data-status"), { timeout: 10_000 }).toBe("COMPLETED");

    // Name filter: typed, applied with Enter, in the URL; page 1 holds the 50 newest.
    await page.locator('form[aria-label="Filters"] input[name="name"]').fill("paged");
    await page.locator('form[aria-label="Filters"] input[name="name"]').press("Enter");
    await expect.poll(() => query(page).get("name")).toBe("paged");
    await expect.poll(() => rowIds(page), { timeout: 10_000 }).toEqual(newestFirst.slice(0, 50));
    await tab.screenshot("list-filtered-page-1");

    // Older: the next page has the rest, none of page 1's; Older is then disabled.
    await page.getByRole("button", { name: "Older" }).click();
    await expect.poll(() => query(page).get("pages")).toBeTruthy();
    await expect.poll(() => rowIds(page), { timeout: 10_000 }).toEqual(newestFirst.slice(50));
    expect(query(page).get("name")).toBe("paged");
    expect(await page.getByRole("button", { name: "Older" }).isDisabled()).toBe(true);
    const page2Url = page.url();
    expect(await unchanged(), "filters and pages are client-side routes").toBe(true);

    // A reload of that URL (a shared link) gives the same page and the filter in its field.
    await page.reload();
    await expect.poll(() => rowIds(page), { timeout: 10_000 }).toEqual(newestFirst.slice(50));
    expect(await page.locator('input[name="name"]').inputValue()).toBe("paged");
    expect(page.url()).toBe(page2Url);

    // Newer goes back to page 1.
    await page.getByRole("button", { name: "Newer" }).click();
    await expect.poll(() => rowIds(page), { timeout: 10_000 }).toEqual(newestFirst.slice(0, 50));
    expect(query(page).get("pages")).toBeNull();

    // Labels and status together: status applies as soon as it is picked.
    await page.locator('input[name="labels"]').fill("batch=even");
    await page.locator('input[name="labels"]').press("Enter");
    await expect.poll(() => query(page).get("labels")).toBe("batch=even");
    await expect.poll(() => rowIds(page), { timeout: 10_000 }).toEqual(newestFirst.filter((id) => id === failing.saga!.id || paged.indexOf(id) % 2 === 0).slice(0, 50));
    await page.locator('select[name="status"]').selectOption("FAILED");
    await expect.poll(() => query(page).get("status")).toBe("FAILED");
    await expect.poll(() => rowIds(page), { timeout: 10_000 }).toEqual([failing.saga!.id]);
    await tab.screenshot("list-filtered-failed");

    // Half-typed text stays out of the request when the status changes.
    await page.locator('input[name="name"]').fill("pag");
    await page.locator('select[name="status"]').selectOption("COMPLETED");
    await expect.poll(() => query(page).get("status")).toBe("COMPLETED");
    expect(query(page).get("name")).toBe("paged");
    await expect.poll(() => rowIds(page), { timeout: 10_000 }).toEqual(newestFirst.filter((id) => paged.indexOf(id) % 2 === 0).slice(0, 50));
    await page.goBack();
    await expect.poll(() => query(page).get("status")).toBe("FAILED");
    await expect.poll(() => page.locator('input[name="name"]').inputValue()).toBe("paged");

    // Back undoes the status filter, as the URL history says.
    await page.goBack();
    await expect.poll(() => query(page).get("status")).toBeNull();
    await expect.poll(() => page.locator('select[name="status"]').inputValue()).toBe("");

    // A status typed into the URL by hand, in lower case, selects its option and filters.
    await page.goto(`${t.srv.server.url}/console/?name=paged&status=failed`);
    await expect.poll(() => rowIds(page), { timeout: 10_000 }).toEqual([failing.saga!.id]);
    await expect.poll(() => page.locator('select[name="status"]').inputValue()).toBe("FAILED");
    await page.goto(`${t.srv.server.url}/console/?name=paged`);
    await expect.poll(() => rowIds(page), { timeout: 10_000 }).toEqual(newestFirst.slice(0, 50));
    const stillNoReload = await tab.markWindow();

    // A time the page cannot read is named at its field and sends no ListSagas with it.
    await page.locator('input[name="since"]').fill("sometime");
    await page.locator('input[name="since"]').press("Enter");
    await expect.poll(() => page.locator('[data-field-error="since"]').textContent()).toBeTruthy();
    expect(query(page).get("since")).toBe("sometime");
    const before = lists.length;
    await page.waitForTimeout(2_500); // longer than a refresh period
    expect(lists.length, "no ListSagas while a filter is unreadable").toBe(before);
    expect(await page.locator("tr[data-saga-id]").count()).toBe(0);

    expect(await stillNoReload()).toBe(true);
    tab.expectClean();
  });
});
