import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, resolveLogFormat } from "../src/logger.js";

function sink() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString("utf8"));
      done();
    },
  });
  return { stream, text: () => chunks.join("") };
}

describe("createLogger", () => {
  it("resolves auto to pretty on a terminal and JSON otherwise; explicit formats win", () => {
    expect(resolveLogFormat("auto", true)).toBe("pretty");
    expect(resolveLogFormat("auto", false)).toBe("json");
    expect(resolveLogFormat("json", true)).toBe("json");
    expect(resolveLogFormat("pretty", false)).toBe("pretty");
  });

  it("writes JSON lines with the replica id", () => {
    const out = sink();
    const logger = createLogger({ level: "info", format: "json", replicaId: "r-1", isTty: false, destination: out.stream });
    logger.info({ saga_id: "s-1" }, "hello");
    logger.debug("not at info");
    const lines = out.text().trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([expect.objectContaining({ level: 30, replica: "r-1", saga_id: "s-1", msg: "hello" })]);
  });

  it("writes human-readable lines, synchronously, in pretty mode", () => {
    const out = sink();
    const logger = createLogger({ level: "info", format: "pretty", replicaId: "r-1", isTty: true, destination: out.stream });
    logger.warn({ saga_id: "s-1", step: "charge" }, "step failed");
    // Synchronous: the line is there as soon as the call returns, with no worker thread to wait for.
    const text = out.text();
    expect(text).toMatch(/WARN.*: step failed/);
    expect(text).toContain('saga_id: "s-1"');
    expect(text).toContain('step: "charge"');
    expect(text).not.toContain("{");
    expect(text).not.toContain("\u001b["); // no colours into anything but the terminal itself
  });
});
