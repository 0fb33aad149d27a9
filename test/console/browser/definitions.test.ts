import { describe, expect, it } from "vitest";
import { useConsole } from "./console-page.js";

/**
 * Starting a saga from a definition in the console: the form is generated from the version's vars
 * schema, a var that breaks the schema is refused by the server and shown at its field, and a good
 * start lands on the new saga's page.
 */
describe("the definitions page, in Chromium", () => {
  const t = useConsole();

  it("the start form refuses vars that break the schema, naming the field, then starts a saga", async () => {
    await t.srv.definitions().registerDefinition({
      spec: {
        name: "refund",
        description: "refund an order",
        varsSchema: {
          type: "object",
          required: ["order_id"],
          properties: {
            order_id: { type: "string", pattern: "^[A-Z]-[0-9]+$", description: "e.g. A-1001" },
            amount_cents: { type: "integer", minimum: 1, default: 100 },
          },
        },
        steps: [
          { name: "check", action: "noop" },
          { name: "pay", action: "noop", dependsOn: ["check"] },
        ],
      },
    });

    const tab = await t.open();
    await tab.signIn(t.srv.adminToken, "/console/definitions");
    await tab.page.getByRole("link", { name: "refund" }).click();
    await tab.page.locator('[name="vars.order_id"]').waitFor({ timeout: 10_000 });
    expect(await tab.page.locator("[data-step]").count(), "the version's DAG").toBe(2);

    await tab.page.locator('[name="vars.order_id"]').fill("not an order id");
    await tab.page.locator('[name="vars.amount_cents"]').fill("0");
    await tab.page.getByRole("button", { name: "Start saga" }).click();
    const orderError = tab.page.locator('[data-field-error="vars.order_id"]');
    await expect.poll(() => orderError.textContent().catch(() => null), { timeout: 10_000 }).toMatch(/pattern/i);
    await tab.screenshot("definitions-form-refused");
    expect((await t.srv.client().listSagas({})).sagas, "nothing was started").toHaveLength(0);

    await tab.page.locator('[name="vars.order_id"]').fill("A-1001");
    await tab.page.locator('[name="vars.amount_cents"]').fill("250");
    await tab.page.getByRole("button", { name: "Start saga" }).click();
    await tab.page.waitForURL(/\/console\/sagas\/[0-9a-f-]{36}$/, { timeout: 10_000 });
    await expect.poll(() => tab.sagaStatus(), { timeout: 10_000 }).toBe("COMPLETED");
    const [saga] = (await t.srv.client().listSagas({})).sagas;
    expect(saga).toMatchObject({ definitionName: "refund", definitionVersion: 1 });
    expect(saga!.vars).toMatchObject({ order_id: "A-1001", amount_cents: "250" });
    tab.expectClean({ console: [/status of 400/] });
  });
});
