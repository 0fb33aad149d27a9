import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { DefinitionService } from "../../gen/saga/v1/definition_pb.js";
import { SagaService } from "../../gen/saga/v1/saga_pb.js";
import { WorkerService } from "../../gen/saga/v1/worker_pb.js";

/** The three public services the console talks to, all with the signed-in operator's token. */
export interface Clients {
  readonly sagas: Client<typeof SagaService>;
  readonly definitions: Client<typeof DefinitionService>;
  readonly workers: Client<typeof WorkerService>;
}

/**
 * Clients for the sagad that served this page (same origin, so no CORS). The token goes in the
 * Authorization header of each call and nowhere else; reads use HTTP GET where the API allows it.
 */
export function createClients(token: string, baseUrl: string = location.origin): Clients {
  const withToken: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  const transport = createConnectTransport({ baseUrl, useBinaryFormat: true, useHttpGet: true, interceptors: [withToken] });
  return {
    sagas: createClient(SagaService, transport),
    definitions: createClient(DefinitionService, transport),
    workers: createClient(WorkerService, transport),
  };
}
