import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Action } from "../../src/actions/action.js";
import { SagaStatus, type SagaClient } from "../../src/client/index.js";
import { captureLogs } from "../helpers/log-capture.js";
import { collectWatch, expectCode, ms, ONE_ATTEMPT } from "../helpers/rpc.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createTestActions } from "../helpers/test-actions.js";
import { waitForStatus } from "../helpers/wait.js";

/** Logs through the logger sagad hands to actions, to see what context it carries. */
const chatty: Action = {
  name: "chatty",
  async run(ctx) {
    ctx.logger.info({ detail: 42 }, "hello from the action");
    return {};
  },
};

/**
 * What an operator greps for: every RPC as one line (method, code, duration, token) and every
 * engine line about a saga with saga_id and saga_name, about a step with step and attempt.
 */
describe("log lines of a real server", () => {
  const t = createTestActions();
  const { logger, lines } = captureLogs("debug");
  let srv: TestServer;
  let client: SagaClient;
  let okId: string;
  let failedId: string;
  beforeAll(async () => {
    srv = await startTestServer({ actions: [...t.actions, chatty], logger });
    client = srv.client({ protocol: "grpc" });
    const ok = await client.createSaga({
      name: "logs-ok",
      steps: [
        { name: "talk", action: "chatty" },
        { name: "flaky", action: "flaky", dependsOn: ["talk"], config: { failTimes: 1 }, retryPolicy: { maxAttempts: 2, initialInterval: ms(10) } },
      ],
    });
    okId = ok.saga!.id;
    const failed = await client.createSaga({ name: "logs-failed", steps: [{ name: "boom", action: "fail", retryPolicy: ONE_ATTEMPT }] });
    failedId = failed.saga!.id;
    await waitForStatus(client, okId, SagaStatus.COMPLETED);
    await waitForStatus(client, failedId, SagaStatus.FAILED);
    await collectWatch(client, { id: okId });
    await expectCode(client.getSaga({ id: "00000000-0000-4000-8000-000000000000" }), Code.NotFound);
  });
  afterAll(() => srv?.close());

  it("logs each RPC once at its end with method, code, duration, protocol and token", () => {
    const rpc = lines.filter((l) => l.msg === "rpc");
    const creates = rpc.filter((l) => l.method === "CreateSaga");
    expect(creates).toHaveLength(2);
    for (const line of creates) {
      expect(line).toMatchObject({ service: "saga.v1.SagaService", code: "ok", protocol: "grpc", token: srv.adminTokenName, level: 30 });
      expect(line.duration_ms as number).toBeGreaterThan(0);
    }
    expect(rpc.filter((l) => l.method === "GetSaga" && l.code === "not_found")).toHaveLength(1);
    expect(rpc.filter((l) => l.method === "WatchSaga")).toEqual([expect.objectContaining({ code: "ok" })]);
  });

  it("logs a refused call with its code, and the token's name only when the token was valid", async () => {
    await expectCode(srv.client({ protocol: "grpc", token: null }).listSagas({}), Code.Unauthenticated);
    const refused = lines.filter((l) => l.msg === "rpc" && l.method === "ListSagas" && l.code === "unauthenticated");
    expect(refused).toEqual([expect.objectContaining({ token: null })]);

    const reader = await srv.issueToken(["sagas:read"], "logs-reader");
    await expectCode(srv.client({ protocol: "grpc", token: reader.token }).deleteSaga({ id: okId }), Code.PermissionDenied);
    const denied = lines.filter((l) => l.msg === "rpc" && l.method === "DeleteSaga");
    expect(denied).toEqual([expect.objectContaining({ code: "permission_denied", token: "logs-reader" })]);
  });

  it("never writes a token's secret, at any level", async () => {
    const reader = await srv.issueToken(["sagas:read"], "logs-secret-keeper");
    await srv.client({ token: reader.token }).getSaga({ id: okId });
    await expectCode(srv.client({ token: `${reader.token.slice(0, -1)}x` }).getSaga({ id: okId }), Code.Unauthenticated);
    const all = JSON.stringify(lines);
    expect(all).toContain("logs-secret-keeper");
    for (const token of [reader.token, srv.adminToken]) expect(all).not.toContain(token.slice(-43));
  });

  it("puts saga_id and saga_name on every engine line about a saga", () => {
    const aboutSagas = lines.filter((l) => "saga_id" in l);
    expect(aboutSagas.length).toBeGreaterThan(10);
    for (const line of aboutSagas) expect(line, line.msg).toMatchObject({ saga_name: expect.stringMatching(/^logs-/) });
    expect(lines.filter((l) => l.msg === "saga created").map((l) => [l.saga_id, l.saga_name])).toEqual([
      [okId, "logs-ok"],
      [failedId, "logs-failed"],
    ]);
  });

  it("puts step and attempt on every line about a step, and warns when one fails for good", () => {
    const ofStep = (sagaId: string, step: string) => lines.filter((l) => l.saga_id === sagaId && l.step === step);
    const flaky = ofStep(okId, "flaky");
    expect(flaky.map((l) => [l.event, l.attempt])).toEqual([
      ["STEP_STARTED", 1],
      ["STEP_RETRY_SCHEDULED", 1],
      ["STEP_STARTED", 2],
      ["STEP_COMPLETED", 2],
    ]);
    const failure = lines.find((l) => l.saga_id === failedId && l.event === "STEP_FAILED");
    expect(failure).toMatchObject({ level: 40, saga_name: "logs-failed", step: "boom", attempt: 1, error_kind: "BOOM" });
    expect(failure!.error).toContain("failed on purpose");
  });

  it("gives actions a logger that carries the saga, step, attempt and phase", () => {
    const said = lines.find((l) => l.msg === "hello from the action");
    expect(said).toMatchObject({ saga_id: okId, saga_name: "logs-ok", step: "talk", attempt: 1, phase: "action", detail: 42 });
  });
});
