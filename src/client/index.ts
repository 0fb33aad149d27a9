import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { DefinitionService } from "../gen/saga/v1/definition_pb.js";
import { SagaService } from "../gen/saga/v1/saga_pb.js";
import { WorkerService } from "../gen/saga/v1/worker_pb.js";

export * from "../gen/saga/v1/saga_pb.js";
export * from "../gen/saga/v1/definition_pb.js";
export * from "../gen/saga/v1/worker_pb.js";
export { watchedEvents } from "./watched-events.js";

export interface SagaClientOptions {
  /** Wire protocol. Default "connect" (HTTP/2 unless httpVersion says otherwise); "grpc" always uses HTTP/2. */
  protocol?: "connect" | "grpc" | "grpc-web";
  /** HTTP version for connect and grpc-web. Default "2". */
  httpVersion?: "1.1" | "2";
  /**
   * API token (`sagad_…`), sent as `Authorization: Bearer <token>` on every call, over every
   * protocol (gRPC carries it as metadata). Needed for every SagaService RPC.
   */
  token?: string;
  /** Sent with every call. */
  headers?: Record<string, string>;
  /** Extra client interceptors (logging, tracing). */
  interceptors?: Interceptor[];
  /** Binary protobuf instead of JSON for connect and grpc-web. Default true. */
  binary?: boolean;
  /**
   * HTTP/2 PINGs every `intervalMs`, even on an idle connection, and a connection whose PING goes
   * unanswered for `timeoutMs` is dropped and the next call opens a new one. Without it, a
   * connection a proxy or NAT silently stopped forwarding is reused forever (long-lived clients
   * such as workers want this). Default: none.
   */
  ping?: { intervalMs: number; timeoutMs: number };
}

export type SagaClient = Client<typeof SagaService>;
export type DefinitionClient = Client<typeof DefinitionService>;
export type WorkerClient = Client<typeof WorkerService>;

/**
 * A typed SagaService client for Node. `baseUrl` is the server's root, e.g. "http://127.0.0.1:8080".
 * Plain HTTP uses h2c for HTTP/2, which sagad serves on the same port as HTTP/1.1.
 */
export function createSagaClient(baseUrl: string, options: SagaClientOptions = {}): SagaClient {
  return createClient(SagaService, createSagadTransport(baseUrl, options));
}

/** A typed DefinitionService client, with the same options as {@link createSagaClient}. */
export function createDefinitionClient(baseUrl: string, options: SagaClientOptions = {}): DefinitionClient {
  return createClient(DefinitionService, createSagadTransport(baseUrl, options));
}

/**
 * A raw WorkerService client (for ListWorkers, or for a worker speaking the protocol itself); most
 * workers use `createWorker` from `sagad/worker`, which does sessions, acks and heartbeats.
 */
export function createWorkerClient(baseUrl: string, options: SagaClientOptions = {}): WorkerClient {
  return createClient(WorkerService, createSagadTransport(baseUrl, options));
}

/** The transport both clients use: token header, protocol and HTTP version as the options say. */
export function createSagadTransport(baseUrl: string, options: SagaClientOptions = {}): Transport {
  const headers = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const withHeaders: Interceptor = (next) => (req) => {
    for (const [name, value] of Object.entries(headers)) req.header.set(name, value);
    return next(req);
  };
  const interceptors = [withHeaders, ...(options.interceptors ?? [])];
  const useBinaryFormat = options.binary ?? true;
  const httpVersion = options.httpVersion ?? "2";
  // nghttp2 kills a whole HTTP/2 session (every call on it) once it buffers more than 10 MB; let
  // the server's request limit (32 MiB by default) be what refuses an oversized request instead.
  const nodeOptions = { maxSessionMemory: 80 };
  const ping = options.ping ? { pingIntervalMs: options.ping.intervalMs, pingTimeoutMs: options.ping.timeoutMs, pingIdleConnection: true } : {};
  const http = httpVersion === "2" ? ({ httpVersion, nodeOptions, ...ping } as const) : ({ httpVersion } as const);
  return options.protocol === "grpc"
    ? createGrpcTransport({ baseUrl, interceptors, nodeOptions, ...ping })
    : options.protocol === "grpc-web"
      ? createGrpcWebTransport({ baseUrl, interceptors, useBinaryFormat, ...http })
      : createConnectTransport({ baseUrl, interceptors, useBinaryFormat, ...http });
}
