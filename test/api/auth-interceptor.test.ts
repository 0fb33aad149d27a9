import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createContextValues, createRouterTransport, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { authInterceptor, type TokenVerifier } from "../../src/api/auth-interceptor.js";
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
import { waitUntil } from "../helpers/wait.js";

const silent = pino({ level: "silent" });

const TOKENS: Record<string, Authenticated> = {
  "tok-read": { tokenName: "reader", scopes: new Set<Scope>(["sagas:read"]) },
  "tok-admin": { tokenName: "root", scopes: new Set<Scope>(["admin"]) },
};
const verifier = { authenticate: (token: string) => TOKENS[token] ?? null, onChange: () => () => {} };

/** A token cache stand-in whose tokens can be revoked, telling listeners as a reload would. */
function revocableVerifier() {
  const active = new Map(Object.entries(TOKENS));
  const listeners = new Set<() => void>();
  return {
    authenticate: (token: string) => active.get(token) ?? null,
    onChange(listener: () => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    reload(revoke?: string) {
      if (revoke) active.delete(revoke);
      for (const listener of listeners) listener();
    },
    listeners,
  };
}

/**
 * In memory: SagaService.GetSaga answers with the principal's token name; WatchSaga sends a
 * snapshot per tick until its call's signal aborts (as a `follow` watch would); Health answers
 * SERVING. `seen` collects the principal each call carried out of the interceptors, refused or not.
 */
function transport(tokens: TokenVerifier = verifier, seen: (string | undefined)[] = [], ended: string[] = []) {
  const outer: Interceptor = (next) => async (req) => {
    try {
      return await next(req);
    } finally {
      seen.push(req.contextValues.get(principalKey)?.tokenName);
    }
  };
  const routes = (router: ConnectRouter) => {
    router.service(SagaService, {
      getSaga: (_req, context) => ({ saga: create(SagaSchema, { name: context.values.get(principalKey)?.tokenName ?? "<none>" }) }),
      async *watchSaga(req, context) {
        try {
          while (!context.signal.aborted) {
            yield { kind: { case: "snapshot", value: create(SagaSchema, { id: req.id }) } };
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        } finally {
          ended.push(req.id);
        }
      },
    });
    router.service(Health, {
      check: () => create(HealthCheckResponseSchema, { status: HealthCheckResponse_ServingStatus.SERVING }),
    });
  };
  return createRouterTransport(routes, { router: { interceptors: [outer, errorInterceptor(silent), authInterceptor(tokens, silent)] } });
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

  it("leaves the principal of a token without the scope in the context, so the RPC log names who was refused", async () => {
    const seen: (string | undefined)[] = [];
    const client = createClient(SagaService, transport(verifier, seen));
    await expectCode(client.deleteSaga({ id: "x" }, { headers: { authorization: "Bearer tok-read" } }), Code.PermissionDenied);
    await expectCode(client.deleteSaga({ id: "x" }, { headers: { authorization: "Bearer tok-guess" } }), Code.Unauthenticated);
    expect(seen).toEqual(["reader", undefined]);
  });

  it("ends an open stream with UNAUTHENTICATED once its token is revoked, and keeps it while it is not", async () => {
    const tokens = revocableVerifier();
    const ended: string[] = [];
    const client = createClient(SagaService, transport(tokens, [], ended));
    const read = async (id: string, token: string) => {
      let messages = 0;
      for await (const _ of client.watchSaga({ id }, { headers: { authorization: `Bearer ${token}` } })) {
        messages++;
        if (messages === 3) tokens.reload(); // a reload that keeps every token changes nothing
      }
      return messages;
    };
    const watching = read("revoked-midway", "tok-read").then(
      () => null,
      (err: unknown) => ConnectError.from(err),
    );
    const other = read("other-token", "tok-admin").catch((err: unknown) => ConnectError.from(err));
    await waitUntil(() => tokens.listeners.size === 2, "both streams are open");
    await new Promise((resolve) => setTimeout(resolve, 50));
    tokens.reload("tok-read");
    const err = await watching;
    expect(err?.code).toBe(Code.Unauthenticated);
    expect(err?.rawMessage).toBe("the API token was revoked");
    expect(errorInfo(err!)).toMatchObject({ reason: "UNAUTHENTICATED" });
    // The handler's generator was ended and the listener removed; the admin's stream goes on.
    await waitUntil(() => ended.includes("revoked-midway"), "the revoked stream's handler finished");
    expect(tokens.listeners.size).toBe(1);
    expect(ended).not.toContain("other-token");
    tokens.reload("tok-admin");
    expect((await other as ConnectError).code).toBe(Code.Unauthenticated);
    expect(tokens.listeners.size).toBe(0);
  });

  it("holds no memory per message on a long stream (a follow watch may run for days)", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const messages = 200_000;
    async function* endless() {
      for (let i = 0; i < messages; i++) yield i;
    }
    const passThrough = authInterceptor(verifier, silent)(async () => ({ stream: true, message: endless() }) as never);
    const req = {
      service: SagaService,
      method: SagaService.method.watchSaga,
      header: new Headers({ authorization: "Bearer tok-read" }),
      contextValues: createContextValues(),
    };
    const res = (await passThrough(req as never)) as unknown as { message: AsyncIterable<number> };
    gc();
    const before = process.memoryUsage().heapUsed;
    let seen = 0;
    let retained = 0;
    for await (const _ of res.message) {
      if (++seen === messages - 1) {
        gc();
        retained = process.memoryUsage().heapUsed - before;
      }
    }
    expect(seen).toBe(messages);
    // Racing each message against one long-lived promise kept ~70 MB here until the stream ended.
    expect(retained).toBeLessThan(5 * 1024 * 1024);
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
