import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SagaStatus } from "../../src/client/index.js";
import { bearer, bufCurl } from "../helpers/buf-curl.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { waitForStatus } from "../helpers/wait.js";

/**
 * Acceptance 3 of the issue, with the real buf CLI and no --schema flag anywhere: the schema comes
 * from server reflection (bidirectional, so over h2c), for services, unary calls and streams.
 */
describe("buf curl against a running sagad, schema from reflection", () => {
  let srv: TestServer;
  let sagaId: string;
  beforeAll(async () => {
    srv = await startTestServer();
    const client = srv.client();
    const { saga } = await client.createSaga({
      name: "buf-curl",
      steps: [
        { name: "reserve", action: "noop", config: { sku: "X-1" } },
        { name: "ship", action: "noop", dependsOn: ["reserve"] },
      ],
    });
    sagaId = saga!.id;
    await waitForStatus(client, sagaId, SagaStatus.COMPLETED);
  });
  afterAll(() => srv?.close());

  it("lists the services", async () => {
    const result = await bufCurl("--list-services", srv.server.url);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split("\n").sort()).toEqual([
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "saga.v1.DefinitionService",
      "saga.v1.SagaService",
      "saga.v1.WorkerService",
    ]);
  });

  it("lists the methods through the older v1alpha protocol too", async () => {
    const result = await bufCurl("--reflect-protocol", "grpc-v1alpha", "--list-methods", srv.server.url);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("saga.v1.SagaService/WatchSaga\n");
    expect(result.stdout).toContain("grpc.health.v1.Health/Check\n");
  });

  it("calls ListSagas, as plainly as the README shows", async () => {
    const result = await bufCurl(...bearer(srv.adminToken), `${srv.server.url}/saga.v1.SagaService/ListSagas`);
    expect(result.code, result.stderr).toBe(0);
    const body = JSON.parse(result.stdout) as { sagas: { id: string; status: string }[] };
    expect(body.sagas).toEqual([expect.objectContaining({ id: sagaId, status: "SAGA_STATUS_COMPLETED" })]);
  });

  it("streams WatchSaga over h2c, and over gRPC", async () => {
    for (const extra of [["--http2-prior-knowledge"], ["--protocol", "grpc"]]) {
      const result = await bufCurl(...extra, ...bearer(srv.adminToken), `${srv.server.url}/saga.v1.SagaService/WatchSaga`, "-d", JSON.stringify({ id: sagaId, afterSequence: 0 }));
      expect(result.code, `${extra.join(" ")}: ${result.stderr}`).toBe(0);
      // buf curl prints one JSON document per stream message.
      const messages = result.stdout.split(/\n(?=\{)/).map((text) => JSON.parse(text) as { event?: { type: string; step?: string } });
      const types = messages.map((m) => m.event?.type);
      expect(types[0]).toBe("EVENT_TYPE_SAGA_CREATED");
      expect(types.at(-1)).toBe("EVENT_TYPE_SAGA_STATUS_CHANGED");
      expect(messages.filter((m) => m.event?.type === "EVENT_TYPE_STEP_COMPLETED").map((m) => m.event!.step)).toEqual(["reserve", "ship"]);
    }
  });

  it("reports an RPC error with its code, not a schema problem", async () => {
    const result = await bufCurl(...bearer(srv.adminToken), `${srv.server.url}/saga.v1.SagaService/GetSaga`, "-d", '{"id": "00000000-0000-4000-8000-000000000000"}');
    // buf curl exits with the gRPC code shifted left by three: NOT_FOUND (5) is 40.
    expect(result.code, result.stderr).toBe(5 << 3);
    expect(result.stderr).toContain('"code": "not_found"');
  });

  it("gets UNAUTHENTICATED for a SagaService call without a token, while reflection needed none", async () => {
    const result = await bufCurl(`${srv.server.url}/saga.v1.SagaService/ListSagas`);
    expect(result.code, result.stderr).toBe(16 << 3);
    expect(result.stderr).toContain('"code": "unauthenticated"');
  });

  it("checks health over gRPC", async () => {
    const result = await bufCurl("--protocol", "grpc", `${srv.server.url}/grpc.health.v1.Health/Check`, "-d", '{"service": "saga.v1.SagaService"}');
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ status: "SERVING" });
  });
});
