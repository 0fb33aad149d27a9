import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DefinitionSpecSchema, EventType, SagaStatus, StepStatus, type DefinitionClient, type SagaClient, type Step } from "../../src/client/index.js";
import { readSpecFile } from "../../src/cli/spec-file.js";
import { PROJECT_ROOT } from "../helpers/replica-process.js";
import { collectWatch, eventsOf } from "../helpers/rpc.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { waitForStatus } from "../helpers/wait.js";

const EXAMPLES = join(PROJECT_ROOT, "examples");
const example = (name: string) => readSpecFile(join(EXAMPLES, name), DefinitionSpecSchema).then((file) => file.message);
const ms = (step: Step, field: "startTime" | "completeTime") => timestampDate(step[field]!).getTime();

/** A payment service stand-in: answers 200 with a charge id, and records what it was sent. */
function startPaymentService(): Promise<{ url: string; requests: { path: string; body: unknown }[]; close(): Promise<void> }> {
  const requests: { path: string; body: unknown }[] = [];
  const server: HttpServer = createServer((req, res) => {
    let text = "";
    req.on("data", (chunk: Buffer) => (text += chunk.toString()));
    req.on("end", () => {
      requests.push({ path: req.url ?? "", body: JSON.parse(text || "null") as unknown });
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ id: `ch_${requests.length}` }));
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/charges`,
    requests,
    close: () => new Promise((done) => server.close(() => done())),
  })));
}

describe("the example definitions register and run", () => {
  let srv: TestServer;
  let defs: DefinitionClient;
  let sagas: SagaClient;
  beforeAll(async () => {
    srv = await startTestServer();
    defs = srv.definitions();
    sagas = srv.client();
  });
  afterAll(() => srv?.close());

  it("every file in examples/ parses and registers", async () => {
    const files = readdirSync(EXAMPLES).filter((f) => /\.(ya?ml|json)$/.test(f));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const file of files) {
      const registered = await defs.registerDefinition({ spec: await example(file) });
      expect(registered.definition?.version, file).toBeGreaterThanOrEqual(1);
    }
  });

  it("order-checkout completes against a payment service, sending the rendered body", async () => {
    const payments = await startPaymentService();
    try {
      await defs.registerDefinition({ spec: await example("order-checkout.yaml") });
      const { saga } = await sagas.createSaga({ definitionRef: { name: "order-checkout" }, vars: { order_id: "A-1001", payment_url: payments.url } });
      const done = await waitForStatus(sagas, saga!.id, SagaStatus.COMPLETED);
      expect(done.vars).toMatchObject({ order_id: "A-1001", amount_cents: "1999" });
      expect(payments.requests).toEqual([{ path: "/charges", body: { order: "A-1001", amount_cents: "1999", reservation: "R-A-1001" } }]);
    } finally {
      await payments.close();
    }
  });

  it("order-checkout fails on a 404 charge, and a rollback releases the reservation", async () => {
    const missing = `${srv.server.url}/no-such-payment-service`;
    const { saga } = await sagas.createSaga({ definitionRef: { name: "order-checkout" }, vars: { order_id: "B-2", payment_url: missing } });
    const failed = await waitForStatus(sagas, saga!.id, SagaStatus.FAILED);
    const charge = failed.steps.find((s) => s.name === "charge")!;
    expect(charge.status).toBe(StepStatus.FAILED);
    expect(charge.error).toMatch(/404/);
    expect(failed.steps.find((s) => s.name === "ship")?.status).toBe(StepStatus.PENDING);
    await sagas.rollbackSaga({ id: saga!.id, reason: "customer gave up" });
    const rolledBack = await waitForStatus(sagas, saga!.id, SagaStatus.COMPENSATED);
    expect(rolledBack.steps.find((s) => s.name === "reserve")?.status).toBe(StepStatus.COMPENSATED);
    const events = eventsOf(await collectWatch(sagas, { id: saga!.id, afterSequence: 0n }));
    expect(events.some((e) => e.step === "reserve" && e.type === EventType.COMPENSATION_COMPLETED)).toBe(true);
    expect(events.some((e) => e.step === "charge" && e.type === EventType.COMPENSATION_STARTED), "a failed charge is not refunded").toBe(false);
    expect(events.filter((e) => e.reason === "customer gave up").length).toBeGreaterThan(0);
  });

  it("order-checkout refuses an order id the schema does not allow, naming the var", async () => {
    await expect(sagas.createSaga({ definitionRef: { name: "order-checkout" }, vars: { order_id: "lowercase-1" } })).rejects.toThrow(/vars\["order_id"\]/);
  });

  it("provision-environment fans out after the network and joins before register", async () => {
    await defs.registerDefinition({ spec: await example("provision-environment.yaml") });
    const { saga } = await sagas.createSaga({ definitionRef: { name: "provision-environment" }, vars: { env: "staging" } });
    const done = await waitForStatus(sagas, saga!.id, SagaStatus.COMPLETED);
    const step = (name: string) => done.steps.find((s) => s.name === name)!;
    const parallel = ["database", "cache", "queue"].map(step);
    const firstEnd = Math.min(...parallel.map((s) => ms(s, "completeTime")));
    for (const s of parallel) {
      expect(ms(s, "startTime")).toBeGreaterThanOrEqual(ms(step("network"), "completeTime"));
      expect(ms(s, "startTime"), `${s.name} started before any of the three finished`).toBeLessThan(firstEnd);
    }
    expect(ms(step("register"), "startTime")).toBeGreaterThanOrEqual(Math.max(...parallel.map((s) => ms(s, "completeTime"))));
    expect(done.outputs["register"]).toEqual({ environment: "staging", network: "net-staging" });
  });

  it("customer-onboarding fills in the schema's defaults and checks every var", async () => {
    await defs.registerDefinition({ spec: await example("customer-onboarding.yaml") });
    const { saga } = await sagas.createSaga({ definitionRef: { name: "customer-onboarding" }, vars: { email: "ada@example.com", plan: "team" } });
    const done = await waitForStatus(sagas, saga!.id, SagaStatus.COMPLETED);
    expect(done.vars).toEqual({ email: "ada@example.com", plan: "team", trial_days: "14", newsletter: "false" });
    expect(done.outputs["welcome-mail"]).toEqual({ to: "ada@example.com", template: "welcome-team", newsletter: "false" });
    await expect(defs.renderDefinition({ name: "customer-onboarding", vars: { email: "ada@example.com", trial_days: "99" } })).rejects.toThrow(/vars\["trial_days"\]: must be <= 30/);
    await expect(defs.renderDefinition({ name: "customer-onboarding", vars: { email: "ada@example.com", colour: "red" } })).rejects.toThrow(/colour/);
    await expect(defs.renderDefinition({ name: "customer-onboarding", vars: {} })).rejects.toThrow(/email/);
  });
});
