import { toJson } from "@bufbuild/protobuf";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SagaEventSchema, SagaStatus, StepStatus } from "../../src/client/index.js";
import { revokeToken } from "../../src/store/token-store.js";
import { runSagadCli } from "../helpers/cli.js";
import { startHttpGate, type HttpGate } from "../helpers/http-gate.js";
import { framesOf, runSagadCliInPty } from "../helpers/pty.js";
import { collectWatch, eventsOf } from "../helpers/rpc.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { waitForStatus, waitUntil } from "../helpers/wait.js";

let srv: TestServer;
let proxy: TcpProxy;
let gate: HttpGate;

beforeAll(async () => {
  srv = await startTestServer();
});
beforeEach(async () => {
  [proxy, gate] = await Promise.all([startTcpProxy(srv.server.url), startHttpGate()]);
});
afterEach(async () => {
  await Promise.all([proxy?.close(), gate?.close()]);
  // The server let go of the streams whose connections were cut, too.
  await waitUntil(() => srv.server.bus.listenerCount() === 0, "no watch subscription left on the server", 5_000);
});
afterAll(() => srv?.close());

/**
 * A gate (held until the CLI is watching, however slowly it starts), then four steps of 400 ms
 * in a row: long enough to cut the watch in the middle of them.
 */
async function createRelay(): Promise<string> {
  const names = ["one", "two", "three", "four"];
  const { saga } = await srv.client().createSaga({
    name: "relay",
    steps: [
      { name: "gate", action: "http", config: { url: gate.url } },
      ...names.map((name, i) => ({ name, action: "sleep", config: { duration: "400ms" }, dependsOn: [i === 0 ? "gate" : names[i - 1]!] })),
    ],
  });
  return saga!.id;
}

/**
 * Once the CLI follows the saga's stream (a bus subscription), opens the gate; once step `two`
 * is done, drops every connection through the proxy, as a broken network would.
 */
async function cutMidWatch(id: string): Promise<number> {
  await waitUntil(() => srv.server.bus.listenerCount() >= 1 && gate.waiting > 0, "the CLI follows the saga at the gate", 20_000);
  gate.release();
  await waitUntil(async () => {
    const { saga } = await srv.client().getSaga({ id });
    return saga!.steps.find((s) => s.name === "two")!.status === StepStatus.COMPLETED;
  }, "step two done", 20_000);
  return proxy.cut();
}

/** The CLI's environment: through the proxy, with `token` (default the admin's). */
function viaProxy(token = srv.adminToken): Record<string, string> {
  return { SAGAD_URL: proxy.url, SAGAD_TOKEN: token };
}

/** The saga's whole history, straight from the server, as proto JSON. */
async function history(id: string) {
  return eventsOf(await collectWatch(srv.client(), { id, afterSequence: 0n })).map((e) => toJson(SagaEventSchema, e));
}

describe("a watch whose connection drops resumes after the last event it saw", () => {
  for (const protocol of ["connect", "grpc"] as const) {
    it(`-o jsonl over ${protocol}: every event once, in order, then exit 0`, async () => {
      const id = await createRelay();
      const watching = runSagadCli(["saga", "watch", id, "-o", "jsonl", "--protocol", protocol], { env: viaProxy(), timeoutMs: 25_000 });
      expect(await cutMidWatch(id)).toBeGreaterThanOrEqual(1);
      const { code, stdout, stderr } = await watching;
      expect(code, stderr).toBe(0);
      expect(proxy.connections).toBeGreaterThanOrEqual(2);

      const printed = stdout.trimEnd().split("\n").map((line) => JSON.parse(line) as { sequence: string });
      const all = await history(id);
      expect(printed.map((e) => e.sequence)).toEqual(all.map((_, i) => String(i + 1)));
      expect(printed).toEqual(all);
      // It did resume, from the middle: after an event past the start and before the end.
      const resumedAfter = Number(/watch interrupted \(.+\); resuming after event #(\d+)/.exec(stderr)?.[1]);
      expect(resumedAfter, stderr).toBeGreaterThan(1);
      expect(resumedAfter).toBeLessThan(all.length);
    });
  }

  it("on a terminal: the live view says the connection was lost, then ends with the summary", async () => {
    const id = await createRelay();
    const watching = runSagadCliInPty(["saga", "watch", id], { env: viaProxy() });
    expect(await cutMidWatch(id)).toBeGreaterThanOrEqual(1);
    const { code, output } = await watching;
    expect(code, output).toBe(0);
    expect(proxy.connections).toBeGreaterThanOrEqual(2);
    const frames = framesOf(output);
    const lost = frames.findIndex((f) => /connection lost \(.+\); resuming after event #\d+/.test(f));
    expect(lost, frames.join("\n----\n")).toBeGreaterThan(0);
    // Later frames go on: the steps after the cut are drawn running, and the note is gone at the end.
    expect(frames.slice(lost).some((f) => /^\S\s+four\s+sleep\s+RUNNING/m.test(f))).toBe(true);
    expect(frames.at(-1)).not.toContain("connection lost");
    expect(frames.at(-1)!.trimEnd().split("\n").at(-1)).toMatch(new RegExp(`^saga ${id} COMPLETED in [\\d.]+m?s \\(5/5 steps done\\)$`));
  });

  it("a first request whose connection breaks is tried again", async () => {
    const { saga } = await srv.client().createSaga({ name: "quick", steps: [{ name: "only", action: "noop" }] });
    const id = saga!.id;
    await waitForStatus(srv.client(), id, SagaStatus.COMPLETED);
    proxy.dropNextConnection();
    const { code, stdout, stderr } = await runSagadCli(["saga", "watch", id], { env: viaProxy(), timeoutMs: 25_000 });
    expect(code, stderr).toBe(0);
    expect(proxy.connections).toBe(2);
    expect(stdout.trimEnd().split("\n").map((l) => /^#(\d+)\s/.exec(l)?.[1])).toEqual((await history(id)).map((e) => (e as { sequence: string }).sequence));
    expect(stderr.trim()).toMatch(new RegExp(`^saga ${id} COMPLETED in [\\d.]+m?s \\(1/1 steps done\\)$`));
  });

  it("on a terminal, an error resuming cannot fix (a revoked token) ends the view and exits 5", async () => {
    const reader = await srv.issueToken(["sagas:read"], "watch-reader");
    const id = await createRelay();
    const watching = runSagadCliInPty(["saga", "watch", id], { env: viaProxy(reader.token) });
    await waitUntil(() => srv.server.bus.listenerCount() >= 1 && gate.waiting > 0, "the CLI follows the saga at the gate", 20_000);
    expect((await revokeToken(srv.db.pool, "watch-reader")).kind).toBe("revoked");
    await srv.server.tokens.reload();
    expect(proxy.cut()).toBeGreaterThanOrEqual(1);
    // The resumed stream is refused; the live view must stop (its frame timer must not keep the
    // process alive) and give the cursor back, and the error comes after the last frame.
    const { code, output } = await watching;
    expect(code, output).toBe(5);
    expect(output).toMatch(/\u001b\[\?25h/);
    const frames = framesOf(output);
    const last = frames.at(-1)!;
    expect(last).toMatch(/^\s+gate\s+http\s+RUNNING/m);
    expect(last).toMatch(/sagad: UNAUTHENTICATED: /);
    gate.release();
  });
});
