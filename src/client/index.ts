import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { SagaService } from "../gen/saga/v1/saga_pb.js";

export * from "../gen/saga/v1/saga_pb.js";
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
}

export type SagaClient = Client<typeof SagaService>;

/**
 * A typed SagaService client for Node. `baseUrl` is the server's root, e.g. "http://127.0.0.1:8080".
 * Plain HTTP uses h2c for HTTP/2, which sagad serves on the same port as HTTP/1.1.
 */
export function createSagaClient(baseUrl: string, options: SagaClientOptions = {}): SagaClient {
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
  const http = httpVersion === "2" ? ({ httpVersion, nodeOptions } as const) : ({ httpVersion } as const);
  const transport =
    options.protocol === "grpc"
      ? createGrpcTransport({ baseUrl, interceptors, nodeOptions })
      : options.protocol === "grpc-web"
        ? createGrpcWebTransport({ baseUrl, interceptors, useBinaryFormat, ...http })
        : createConnectTransport({ baseUrl, interceptors, useBinaryFormat, ...http });
  return createClient(SagaService, transport);
}
