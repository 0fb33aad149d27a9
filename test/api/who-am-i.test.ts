/**
 * WhoAmI: the calling token's name and scopes, so the console can show a read-only operator what
 * they will be refused before they try; a token it cannot read with is refused like any read.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../helpers/server.js";

describe("WhoAmI", () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer();
  });
  afterAll(() => srv?.close());

  it("names the token and lists its scopes, sorted", async () => {
    const issued = await srv.issueToken(["sagas:read", "definitions:write"], "console-reader");
    const me = await srv.client({ token: issued.token }).whoAmI({});
    expect(me.tokenName).toBe("console-reader");
    expect(me.scopes).toEqual(["definitions:write", "sagas:read"]);
  });

  it("an admin token says admin", async () => {
    const me = await srv.client().whoAmI({});
    expect(me).toMatchObject({ tokenName: srv.adminTokenName, scopes: ["admin"] });
  });

  it("a worker token is refused with PERMISSION_DENIED, no token with UNAUTHENTICATED", async () => {
    const worker = await srv.issueToken(["workers"], "a-worker");
    const denied = await srv.client({ token: worker.token }).whoAmI({}).catch((e: unknown) => ConnectError.from(e));
    expect(denied).toBeInstanceOf(ConnectError);
    expect((denied as ConnectError).code).toBe(Code.PermissionDenied);
    const anonymous = await srv.client({ token: "" }).whoAmI({}).catch((e: unknown) => ConnectError.from(e));
    expect((anonymous as ConnectError).code).toBe(Code.Unauthenticated);
  });
});
