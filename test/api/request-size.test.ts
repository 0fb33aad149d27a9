import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { expectCode, PROTOCOLS } from "../helpers/rpc.js";

describe.each(PROTOCOLS)("an oversized request over %s", (protocol) => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer();
  });
  afterAll(() => srv?.close());

  it("is refused with RESOURCE_EXHAUSTED, stores nothing, and the connection keeps working", async () => {
    const client = srv.client({ protocol });
    // 40 MiB: above the server's 32 MiB request limit and above nghttp2's 10 MB session default.
    const huge = "x".repeat(40 << 20);
    const err = await expectCode(client.createSaga({ name: "big", steps: [{ name: "a", action: "noop", config: { huge } }] }), Code.ResourceExhausted);
    expect(err.rawMessage).toContain("readMaxBytes");
    const { sagas } = await client.listSagas({});
    expect(sagas).toHaveLength(0);
    // 10 MiB is decoded and judged by validation, naming the field.
    const tooLarge = await expectCode(
      client.createSaga({ name: "big", steps: [{ name: "a", action: "noop", config: { big: "x".repeat(10 << 20) } }] }),
      Code.InvalidArgument,
    );
    expect(tooLarge.rawMessage).toContain("steps[0].config");
  }, 60_000);
});
