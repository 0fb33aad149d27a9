import type { Scope } from "../domain/scopes.js";
import { ServerReflection as ReflectionV1 } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1Alpha } from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { Health } from "../gen/health/v1/health_pb.js";
import { SagaService } from "../gen/saga/v1/saga_pb.js";
import { DefinitionService } from "../gen/saga/v1/definition_pb.js";
import { WorkerService } from "../gen/saga/v1/worker_pb.js";

/**
 * The access tables: the scope each SagaService (and, below, DefinitionService) RPC needs. `admin` satisfies every entry (see
 * {@link isAllowed}). Typed over the generated service, so adding an RPC to saga.proto without
 * deciding its scope here does not compile.
 */
export const SAGA_SERVICE_SCOPES = {
  getSaga: "sagas:read",
  listSagas: "sagas:read",
  watchSaga: "sagas:read",
  listCircuits: "sagas:read",
  whoAmI: "sagas:read",
  createSaga: "sagas:execute",
  retrySaga: "sagas:execute",
  rollbackSaga: "sagas:execute",
  cancelSaga: "sagas:execute",
  retryStep: "sagas:execute",
  skipStep: "sagas:execute",
  deleteSaga: "admin",
} as const satisfies { readonly [K in keyof typeof SagaService.method]: Scope };

/**
 * DefinitionService: reading definitions is reading what sagas run (`sagas:read`); changing them
 * changes what future sagas do, so it has a scope of its own that a deploy pipeline can hold alone.
 */
export const DEFINITION_SERVICE_SCOPES = {
  getDefinition: "sagas:read",
  listDefinitions: "sagas:read",
  listDefinitionVersions: "sagas:read",
  renderDefinition: "sagas:read",
  registerDefinition: "definitions:write",
  setDefinitionState: "definitions:write",
} as const satisfies { readonly [K in keyof typeof DefinitionService.method]: Scope };

/**
 * WorkerService: a worker token does the worker's part and nothing else; who is connected is for
 * operators (`sagas:read`), since it shows what waits and why.
 */
export const WORKER_SERVICE_SCOPES = {
  registerWorker: "workers",
  subscribe: "workers",
  pollTasks: "workers",
  ackTasks: "workers",
  heartbeat: "workers",
  completeTask: "workers",
  failTask: "workers",
  reportCancelled: "workers",
  drain: "workers",
  listWorkers: "sagas:read",
} as const satisfies { readonly [K in keyof typeof WorkerService.method]: Scope };

/**
 * Services anyone may call without a token: probes (grpc.health.v1) and schema discovery (server
 * reflection) reveal no saga data, and load balancers and `buf curl` cannot present a token.
 */
export const PUBLIC_SERVICES: ReadonlySet<string> = new Set([Health.typeName, ReflectionV1.typeName, ReflectionV1Alpha.typeName]);

/** What a method needs: nothing, one scope, or, for a method this table does not know, refusal. */
export type Access = { readonly kind: "public" } | { readonly kind: "scope"; readonly scope: Scope } | { readonly kind: "unknown" };

const BY_PATH: ReadonlyMap<string, Scope> = new Map([
  ...Object.entries(SAGA_SERVICE_SCOPES).map(([localName, scope]): [string, Scope] => {
    const method = SagaService.method[localName as keyof typeof SagaService.method];
    return [`${SagaService.typeName}/${method.name}`, scope];
  }),
  ...Object.entries(DEFINITION_SERVICE_SCOPES).map(([localName, scope]): [string, Scope] => {
    const method = DefinitionService.method[localName as keyof typeof DefinitionService.method];
    return [`${DefinitionService.typeName}/${method.name}`, scope];
  }),
  ...Object.entries(WORKER_SERVICE_SCOPES).map(([localName, scope]): [string, Scope] => {
    const method = WorkerService.method[localName as keyof typeof WorkerService.method];
    return [`${WorkerService.typeName}/${method.name}`, scope];
  }),
]);

/**
 * Access for `service/method` (e.g. `saga.v1.SagaService`, `DeleteSaga`). Fails closed: a method
 * in no table is `unknown`, and the interceptor refuses it, admin included.
 */
export function accessFor(serviceTypeName: string, methodName: string): Access {
  if (PUBLIC_SERVICES.has(serviceTypeName)) return { kind: "public" };
  const scope = BY_PATH.get(`${serviceTypeName}/${methodName}`);
  return scope === undefined ? { kind: "unknown" } : { kind: "scope", scope };
}

/** `admin` includes every scope; `sagas:read` and `sagas:execute` are independent. */
export function isAllowed(granted: ReadonlySet<Scope>, needed: Scope): boolean {
  return granted.has(needed) || granted.has("admin");
}
