import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport, type Interceptor } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { errorInterceptor } from "../../src/api/error-interceptor.js";
import { Metrics } from "../../src/api/metrics.js";
import { principalKey } from "../../src/api/principal.js";
import { rpcInterceptor } from "../../src/api/rpc-interceptor.js";
import { notFound } from "../../src/domain/errors.js";
import { SagaSchema, SagaService } from "../../src/gen/saga/v1/saga_pb.js";
import { captureLogs, type LogLine } from "../helpers/log-capture.js";
import { parsePrometheusText, sampleValue } from "../helpers/prometheus-text.js";
import { expectCode } from "../helpers/rpc.js";

/**
 * Stands in for the auth interceptor another part of the issue adds inside ours: it refuses calls
 * without a bearer token and puts the caller's principal into the context values.
 */
const fakeAuth: Interceptor = (next) => async (req) => {
  const token = req.header.get("authorization")?.replace(/^Bearer /, "");
  if (!token) throw new ConnectError("missing bearer token", Code.Unauthenticated);
  req.contextValues.set(principalKey, { tokenName: `name-of-${token}`, scopes: new Set(["sagas:read"] as const) });
  return next(req);
};

function setup() {
  const { logger, lines } = captureLogs("debug");
  const metrics = new Metrics({ leasesHeld: () => 0, circuits: () => [], processMetrics: false });
  const transport = createRouterTransport(
    (router) =>
      router.service(SagaService, {
        getSaga(req) {
          if (req.id === "missing") throw notFound("saga", req.id);
          return { saga: create(SagaSchema, { id: req.id }) };
        },
        async *watchSaga(req) {
          yield { kind: { case: "snapshot", value: create(SagaSchema, { id: req.id }) } };
          if (req.id === "breaks") throw new Error("the store went away");
          yield { kind: { case: "snapshot", value: create(SagaSchema, { id: req.id }) } };
        },
      }),
    { router: { interceptors: [rpcInterceptor(logger, metrics), fakeAuth, errorInterceptor(logger)] } },
  );
  const client = createClient(SagaService, transport);
  const rpcLines = () => lines.filter((l) => l.msg === "rpc");
  return { client, lines, rpcLines, metrics };
}

const auth = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

function expectLine(line: LogLine | undefined, fields: Record<string, unknown>) {
  expect(line).toMatchObject({ service: "saga.v1.SagaService", protocol: "connect", ...fields });
  expect(typeof line!.duration_ms).toBe("number");
  expect(line!.duration_ms as number).toBeGreaterThanOrEqual(0);
  expect(line!.level, "SagaService calls are logged at info").toBe(30);
}

describe("rpcInterceptor", () => {
  it("logs one line per unary call with method, code, duration and the token name set inside it", async () => {
    const { client, rpcLines } = setup();
    await client.getSaga({ id: "s-1" }, auth("ci"));
    await expectCode(client.getSaga({ id: "missing" }, auth("ci")), Code.NotFound);
    expect(rpcLines()).toHaveLength(2);
    expectLine(rpcLines()[0], { method: "GetSaga", code: "ok", token: "name-of-ci" });
    // The code the error interceptor made of a domain error, by its Connect name.
    expectLine(rpcLines()[1], { method: "GetSaga", code: "not_found", token: "name-of-ci" });
  });

  it("logs and counts calls refused by the interceptors inside it, without a token name", async () => {
    const { client, rpcLines, metrics } = setup();
    await expectCode(client.getSaga({ id: "s-1" }), Code.Unauthenticated);
    expectLine(rpcLines()[0], { method: "GetSaga", code: "unauthenticated", token: null });
    const families = parsePrometheusText((await metrics.render()).body);
    expect(sampleValue(families, "sagad_rpcs_total", { method: "GetSaga", code: "unauthenticated" })).toBe(1);
  });

  it("logs a stream when it ends, not when it starts, with the code it ended with", async () => {
    const { client, rpcLines, metrics } = setup();
    const messages = [];
    for await (const msg of client.watchSaga({ id: "s-1" }, auth("watcher"))) {
      messages.push(msg);
      // Still streaming: nothing logged yet, and the stream counts as open.
      expect(rpcLines()).toHaveLength(0);
      const families = parsePrometheusText((await metrics.render()).body);
      expect(sampleValue(families, "sagad_streams_open", { method: "WatchSaga" })).toBe(1);
    }
    expect(messages).toHaveLength(2);
    expectLine(rpcLines()[0], { method: "WatchSaga", code: "ok", token: "name-of-watcher" });

    const failed = (async () => {
      for await (const _ of client.watchSaga({ id: "breaks" }, auth("watcher")));
    })();
    await expectCode(failed, Code.Internal);
    expectLine(rpcLines()[1], { method: "WatchSaga", code: "internal" });
    const families = parsePrometheusText((await metrics.render()).body);
    expect(sampleValue(families, "sagad_streams_open", { method: "WatchSaga" })).toBe(0);
    expect(sampleValue(families, "sagad_rpcs_total", { method: "WatchSaga", code: "internal" })).toBe(1);
  });
});
