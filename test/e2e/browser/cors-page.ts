/**
 * The script of a web page served from another origin than sagad's: it calls sagad from the
 * browser with @connectrpc/connect-web, as a web app would. Bundled by esbuild in
 * test/e2e/browser-cors.test.ts; the test calls `window.sagadCalls` through Playwright.
 */
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { EventType, SagaService, SagaStatus } from "../../../src/gen/saga/v1/saga_pb.js";

export interface CallsResult {
  ok: boolean;
  /** What failed: the Connect code name and message, when `ok` is false. */
  error?: string;
  status?: string;
  events?: string[];
}

async function sagadCalls(baseUrl: string, token: string, protocol: "connect" | "grpc-web"): Promise<CallsResult> {
  const withToken: Interceptor = (next) => (req) => {
    req.header.set("Authorization", `Bearer ${token}`);
    return next(req);
  };
  const interceptors = [withToken];
  const transport = protocol === "grpc-web" ? createGrpcWebTransport({ baseUrl, interceptors }) : createConnectTransport({ baseUrl, interceptors });
  const client = createClient(SagaService, transport);
  try {
    const { saga } = await client.createSaga({
      name: `browser-${protocol}`,
      steps: [
        { name: "a", action: "noop", config: { v: 1 } },
        { name: "b", action: "sleep", dependsOn: ["a"], config: { duration: "0.2s" } },
      ],
    });
    const events: string[] = [];
    for await (const msg of client.watchSaga({ id: saga!.id, afterSequence: 0n })) {
      if (msg.kind.case === "event") events.push(EventType[msg.kind.value.type]);
    }
    const { saga: done } = await client.getSaga({ id: saga!.id });
    return { ok: true, status: SagaStatus[done!.status], events };
  } catch (err) {
    const e = ConnectError.from(err);
    return { ok: false, error: `${Code[e.code]}: ${e.rawMessage}` };
  }
}

(globalThis as unknown as { sagadCalls: typeof sagadCalls }).sagadCalls = sagadCalls;
