import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FailurePolicy, SagaStatus, StepStatus } from "../../src/client/index.js";
import type { CreateSagaInit, StepSpecInit } from "../helpers/rpc.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { sagaUntil } from "./worker-harness.js";

let t: TestServer;
let worker: ChildProcess | undefined;
let stdout = "";
beforeAll(async () => {
  t = await startTestServer({ workers: { heartbeatIntervalMs: 500 } });
  const { token } = await t.issueToken(["workers"], "ts-example");
  worker = spawn(process.execPath, ["--import", "tsx", "examples/ts-worker/worker.ts"], {
    env: { ...process.env, SAGAD_URL: t.server.url, SAGAD_TOKEN: token },
    stdio: ["ignore", "pipe", "pipe"],
  });
  worker.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  worker.stderr!.on("data", (d: Buffer) => (stdout += d.toString()));
  const deadline = Date.now() + 20_000;
  while (!stdout.includes("serving charge-card")) {
    if (Date.now() > deadline || worker.exitCode !== null) throw new Error(`the example worker did not start:\n${stdout}`);
    await new Promise((r) => setTimeout(r, 50));
  }
});
afterAll(async () => {
  if (worker && worker.exitCode === null) worker.kill("SIGKILL");
  await t?.close();
});


const checkout = (amount: string, extra: StepSpecInit[] = []): CreateSagaInit => ({
  name: "checkout",
  failurePolicy: FailurePolicy.COMPENSATE,
  vars: { amount },
  steps: [
    { name: "reserve", action: "noop", config: { sku: "A-1" } },
    {
      name: "charge",
      action: "charge-card",
      dependsOn: ["reserve"],
      config: { amount: "{{vars.amount}}" },
      compensate: { action: "refund-card", config: { chargeId: "{{steps.charge.output.chargeId}}" } },
    },
    { name: "ship", action: "noop", dependsOn: ["charge"] },
    ...extra,
  ],
});

describe("examples/ts-worker", () => {
  it("charges a card for a checkout, and the saga completes", async () => {
    const { saga } = await t.client().createSaga(checkout("42"));
    const done = await sagaUntil(t.client(), saga!.id, (s) => [SagaStatus.COMPLETED, SagaStatus.FAILED, SagaStatus.COMPENSATED].includes(s.status));
    expect(done.status).toBe(SagaStatus.COMPLETED);
    expect(done.outputs.charge).toMatchObject({ amount: 42 });
    expect(String(done.outputs.charge!.chargeId)).toMatch(/^ch_/);
  });

  it("a declined card fails its step for good, and the earlier charge is refunded", async () => {
    const { saga } = await t.client().createSaga(checkout("42", [{ name: "upsell", action: "charge-card", dependsOn: ["charge"], config: { amount: "5000" } }]));
    const done = await sagaUntil(t.client(), saga!.id, (s) => [SagaStatus.COMPLETED, SagaStatus.FAILED, SagaStatus.COMPENSATED].includes(s.status));
    expect(done.status).toBe(SagaStatus.COMPENSATED);
    const byName = Object.fromEntries(done.steps.map((s) => [s.name, s]));
    expect(byName.upsell).toMatchObject({ status: StepStatus.FAILED, errorKind: "CARD_DECLINED", error: "card declined" });
    expect(byName.charge!.status).toBe(StepStatus.COMPENSATED);
  });

  it("stops on SIGTERM and exits 0", async () => {
    worker!.kill("SIGTERM");
    const [code] = (await Promise.race([once(worker!, "exit"), new Promise((r) => setTimeout(() => r(["timeout"]), 10_000))])) as [unknown];
    expect(code).toBe(0);
  });
});
