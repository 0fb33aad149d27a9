import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createContextValues, createRouterTransport, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { authInterceptor } from "../../src/api/auth-interceptor.js";
import { errorInterceptor } from "../../src/api/error-interceptor.js";
import { ERROR_DOMAIN } from "../../src/api/errors.js";
import { accessFor, isAllowed, SAGA_SERVICE_SCOPES } from "../../src/api/method-scopes.js";
import { principalKey } from "../../src/api/principal.js";
import type { Authenticated } from "../../src/auth/token-cache.js";
import type { Scope } from "../../src/domain/scopes.js";
import { ServerReflection as ReflectionV1 } from "../../src/gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1Alpha } from "../../src/gen/grpc/reflection/v1alpha/reflection_pb.js";
import { Health, HealthCheckResponse_ServingStatus, HealthCheckResponseSchema } from "../../src/gen/health/v1/health_pb.js";
import { SagaSchema, SagaService } from "../../src/gen/saga/v1/saga_pb.js";
import { errorInfo, expectCode } from "../helpers/rpc.js";

const silent = pino({ level: "silent" });

const TOKENS: Record<string, Authenticated> = {
  "tok-read": { tokenName: "reader", scopes: new Set<Scope>(["sagas:read"]) },
  "tok-admin": { tokenName: "root", scopes: new Set<Scope>(["admin"]) },
};
const verifier = { authenticate: (token: string) => TOKENS[token] ?? null };

/** In memory: SagaService.GetSaga answers with the principal's token name; Health answers SERVING. */
function transport() {
  const routes = (router: ConnectRouter) => {
    router.service(SagaService, {
      getSaga: (_req, context) => ({ saga: create(SagaSchema, { name: context.values.get(principalKey)?.tokenName ?? "<none>" }) }),
    });
    router.service(Health, {
      check: () => create(HealthCheckResponseSchema, { status: HealthCheckResponse_ServingStatus.SERVING }),
    });
  };
  return createRouterTransport(routes, { router: { interceptors: [errorInterceptor(silent), authInterceptor(verifier, silent)] } });
}

function sagaClient(authorization?: string) {
  const t = transport();
  return createClient(SagaService, t).getSaga({ id: "x" }, { headers: authorization === undefined ? {} : { authorization } });
}

describe("the access table", () => {
  it("has an entry for every SagaService RPC (the compiler also insists) and for nothing else", () => {
    expect(Object.keys(SAGA_SERVICE_SCOPES).sort()).toEqual(SagaService.methods.map((m) => m.localName).sort());
  });

  it("makes health and both reflection versions public, and nothing else", () => {
    expect(accessFor(Health.typeName, "Check")).toEqual({ kind: "public" });
    expect(accessFor(Health.typeName, "Watch")).toEqual({ kind: "public" });
    expect(accessFor(ReflectionV1.typeName, "ServerReflectionInfo")).toEqual({ kind: "public" });
    expect(accessFor(ReflectionV1Alpha.typeName, "ServerReflectionInfo")).toEqual({ kind: "public" });
    expect(accessFor("saga.v1.SagaService", "NoSuchMethod")).toEqual({ kind: "unknown" });
    expect(accessFor("grpc.health.v2.Health", "Check")).toEqual({ kind: "unknown" });
    expect(accessFor("saga.v1.SagaService", "DeleteSaga")).toEqual({ kind: "scope", scope: "admin" });
  });

  it("lets admin do everything, and keeps read and execute apart", () => {
    expect(isAllowed(new Set(["admin"]), "sagas:read")).toBe(true);
    expect(isAllowed(new Set(["admin"]), "sagas:execute")).toBe(true);
    expect(isAllowed(new Set(["sagas:execute"]), "sagas:read")).toBe(false);
    expect(isAllowed(new Set(["sagas:read"]), "sagas:execute")).toBe(false);
    expect(isAllowed(new Set(["sagas:read", "sagas:execute"]), "admin")).toBe(false);
  });
});

describe("authInterceptor", () => {
  it("hands the token's principal to the handler", async () => {
    const res = await sagaClient("Bearer tok-read");
    expect(res.saga?.name).toBe("reader");
  });

  it.each([
    ["lower-case scheme", "bearer tok-read"],
    ["extra spaces", "Bearer   tok-read  "],
  ])("accepts the header with a %s", async (_, header) => {
    expect((await sagaClient(header)).saga?.name).toBe("reader");
  });

  it("answers a call without a token UNAUTHENTICATED, saying how to send one, with ErrorInfo", async () => {
    const err = await expectCode(sagaClient(), Code.Unauthenticated);
    expect(err.rawMessage).toBe('GetSaga needs an API token: send the header "Authorization: Bearer <token>"');
    expect(errorInfo(err)).toMatchObject({ reason: "UNAUTHENTICATED", domain: ERROR_DOMAIN });
  });

  it.each([
    ["another scheme", "Basic dXNlcjpwYXNz"],
    ["no token", "Bearer"],
    ["two tokens", "Bearer tok-read tok-admin"],
  ])("answers a malformed header (%s) UNAUTHENTICATED", async (_, header) => {
    const err = await expectCode(sagaClient(header), Code.Unauthenticated);
    expect(err.rawMessage).toBe('malformed Authorization header: expected "Bearer <token>"');
  });

  it("answers an unknown token UNAUTHENTICATED without naming any token", async () => {
    const err = await expectCode(sagaClient("Bearer tok-guess"), Code.Unauthenticated);
    expect(err.rawMessage).toBe("the API token is invalid or revoked");
  });

  it("lets health through with no token at all", async () => {
    const res = await createClient(Health, transport()).check({});
    expect(res.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  it("refuses a method missing from the table, even for admin (fail closed)", async () => {
    const interceptor: Interceptor = authInterceptor(verifier, silent);
    let reached = false;
    const next = interceptor(async () => {
      reached = true;
      return {} as never;
    });
    const req = {
      service: { typeName: "sagad.admin.v1.Secret" },
      method: { name: "Everything" },
      header: new Headers({ authorization: "Bearer tok-admin" }),
      contextValues: createContextValues(),
    };
    const caught = await next(req as never).catch((err: unknown) => err);
    expect(reached).toBe(false);
    expect(caught).toMatchObject({ reason: "PERMISSION_DENIED", message: "Everything has no access rule, so nobody may call it" });
    expect(caught).not.toBeInstanceOf(ConnectError); // a domain error: errorInterceptor maps it
  });
});
