import http from "node:http";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { CONSOLE_CSP } from "../../src/api/console-files.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The bytes as sent (not decompressed). */
  body: Buffer;
}

/** One HTTP/1.1 request with the path sent exactly as given (fetch would normalise `..` away). */
function request(baseUrl: string, rawPath: string, options: { method?: string; headers?: http.OutgoingHttpHeaders } = {}): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path: rawPath, method: options.method ?? "GET", headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end(options.method === "POST" ? "{}" : undefined);
  });
}

interface Tag {
  name: string;
  attributes: Map<string, string>;
  /** Text up to the closing tag, for elements whose content is raw text (script, style). */
  content: string;
}

/**
 * The start tags of an HTML document, with their attributes. Enough for the few lines Vite writes
 * (quoted or bare attribute values, no comments that hide tags); it is what the check below needs
 * and it fails loudly (no tags found) rather than silently on anything odd.
 */
function startTags(html: string): Tag[] {
  const tags: Tag[] = [];
  const tag = /<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s"'>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*)\s*\/?>/g;
  const attribute = /([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  for (const match of html.matchAll(tag)) {
    const name = match[1]!.toLowerCase();
    const attributes = new Map<string, string>();
    for (const a of match[2]!.matchAll(attribute)) attributes.set(a[1]!.toLowerCase(), a[2] ?? a[3] ?? a[4] ?? "");
    let content = "";
    if (name === "script" || name === "style") {
      const end = html.toLowerCase().indexOf(`</${name}`, match.index + match[0].length);
      content = html.slice(match.index + match[0].length, end === -1 ? undefined : end);
    }
    tags.push({ name, attributes, content });
  }
  return tags;
}

/**
 * sagad serves the built console itself: redirects to /console/, index.html for every page path
 * (deep links) with the strict CSP and revalidation, hashed assets cached for a year and gzipped on
 * request, nothing outside the build, and the RPCs on the same port untouched.
 */
describe("the web console's files", () => {
  let srv: TestServer;
  let index: string;
  let script: string;
  let stylesheet: string;

  beforeAll(async () => {
    srv = await startTestServer();
    index = (await request(srv.server.url, "/console/")).body.toString("utf8");
    const tags = startTags(index);
    script = tags.find((t) => t.name === "script")!.attributes.get("src")!;
    stylesheet = tags.find((t) => t.name === "link" && t.attributes.get("rel") === "stylesheet")!.attributes.get("href")!;
  });

  afterAll(async () => {
    await srv?.close();
  });

  it.each(["/", "/console", "/?x=1"])("%s redirects to /console/", async (from) => {
    const res = await request(srv.server.url, from);
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe("/console/");
    expect(res.headers["content-security-policy"]).toBe(CONSOLE_CSP);
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
  });

  it.each(["/console/", "/console/sagas/x", "/console/definitions/checkout?v=2"])(
    "%s is index.html under the strict CSP, revalidated on every load",
    async (page) => {
      const res = await request(srv.server.url, page);
      expect(res.status).toBe(200);
      expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(res.headers["content-security-policy"]).toBe(CONSOLE_CSP);
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
      expect(res.headers["x-frame-options"]).toBe("DENY");
      expect(res.headers["cache-control"]).toBe("no-cache");
      expect(res.headers.etag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
      expect(res.body.toString("utf8")).toBe(index);
    },
  );

  it("the CSP is the strict one: own files only, no inline code, no framing", () => {
    expect(CONSOLE_CSP).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
  });

  it("answers 304 to If-None-Match with the current ETag, and 200 to a stale one", async () => {
    const first = await request(srv.server.url, "/console/sagas/x");
    const again = await request(srv.server.url, "/console/", { headers: { "If-None-Match": first.headers.etag } });
    expect(again.status).toBe(304);
    expect(again.body).toHaveLength(0);
    expect(again.headers.etag).toBe(first.headers.etag);
    expect(again.headers["content-security-policy"]).toBe(CONSOLE_CSP);
    const stale = await request(srv.server.url, "/console/", { headers: { "If-None-Match": '"not-this-build"' } });
    expect(stale.status).toBe(200);
  });

  it("the built index.html has no inline script, style or event handler, and loads only its own files", () => {
    const tags = startTags(index);
    expect(tags.map((t) => t.name)).toEqual(expect.arrayContaining(["html", "head", "script", "link", "body"]));
    for (const tag of tags) {
      expect(tag.name, "a <style> element").not.toBe("style");
      expect([...tag.attributes.keys()].filter((name) => name === "style" || name.startsWith("on")), `<${tag.name}> attributes`).toEqual([]);
      for (const value of tag.attributes.values()) expect(value).not.toMatch(/^\s*javascript:/i);
      if (tag.name === "script") {
        expect(tag.attributes.get("src"), "a <script> without src").toMatch(/^\/console\/assets\//);
        expect(tag.content.trim(), "inline script text").toBe("");
      }
    }
    expect(script).toMatch(/^\/console\/assets\/[A-Za-z0-9_-]+\.js$/);
    expect(stylesheet).toMatch(/^\/console\/assets\/[A-Za-z0-9_-]+\.css$/);
  });

  it("hashed assets are cached for a year, typed, and match the build", async () => {
    const js = await request(srv.server.url, script);
    expect(js.status).toBe(200);
    expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(js.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(js.headers["x-content-type-options"]).toBe("nosniff");
    expect(js.headers["content-encoding"]).toBeUndefined();
    expect(js.body.equals(await readFile(path.join(inject("consoleDir"), script.slice("/console/".length))))).toBe(true);
    const css = await request(srv.server.url, stylesheet);
    expect(css.status).toBe(200);
    expect(css.headers["content-type"]).toBe("text/css; charset=utf-8");
    expect(css.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
  });

  it("gzips an asset when the browser accepts it, and not when it refuses gzip", async () => {
    const plain = await request(srv.server.url, script);
    const zipped = await request(srv.server.url, script, { headers: { "Accept-Encoding": "gzip, deflate, br" } });
    expect(zipped.status).toBe(200);
    expect(zipped.headers["content-encoding"]).toBe("gzip");
    expect(zipped.headers.vary).toBe("Accept-Encoding");
    expect(Number(zipped.headers["content-length"])).toBe(zipped.body.length);
    expect(zipped.body.length).toBeLessThan(plain.body.length / 2);
    expect(gunzipSync(zipped.body).equals(plain.body)).toBe(true);
    // Served again from the per-process cache: the same bytes.
    expect((await request(srv.server.url, script, { headers: { "Accept-Encoding": "gzip" } })).body.equals(zipped.body)).toBe(true);
    const refused = await request(srv.server.url, script, { headers: { "Accept-Encoding": "gzip;q=0, identity" } });
    expect(refused.headers["content-encoding"]).toBeUndefined();
    expect(refused.body.equals(plain.body)).toBe(true);
    // A weight above zero is a yes, however written; only a zero weight refuses.
    for (const accept of ["gzip;q=0.5", "br, GZIP; q=1", "deflate, gzip;q=0.001"]) {
      expect((await request(srv.server.url, script, { headers: { "Accept-Encoding": accept } })).headers["content-encoding"], accept).toBe("gzip");
    }
    for (const accept of ["gzip;q=0.0", "gzip;q=0.000", "br", "x-gzip-not"]) {
      expect((await request(srv.server.url, script, { headers: { "Accept-Encoding": accept } })).headers["content-encoding"], accept).toBeUndefined();
    }
  });

  it.each([
    "/console/assets/../index.html",
    "/console/assets/../../package.json",
    "/console/assets/..%2f..%2fpackage.json",
    "/console/assets/%2e%2e/%2e%2e/package.json",
    "/console/assets/%2e%2e%2f%2e%2e%2fpackage.json",
    "/console/assets/..\\..\\package.json",
    "/console/assets/sub/index.js",
    "/console/assets/.env.js",
    "/console/assets/no-such-file-abc123.js",
    "/console/assets/index.html",
    "/console/assets/",
  ])("%s is 404", async (bad) => {
    const res = await request(srv.server.url, bad);
    expect(res.status).toBe(404);
    expect(res.body.toString("utf8")).toMatch(/^no such console file/);
    expect(res.body.toString("utf8")).not.toContain('"name": "sagad"');
  });

  it("a path climbing out of /console/ outside assets gets the page, never a file", async () => {
    const res = await request(srv.server.url, "/console/../package.json");
    expect(res.status).toBe(200);
    expect(res.body.toString("utf8")).toBe(index);
  });

  it.each(["/", "/console", "/console/", "/console/assets/x.js"])("POST %s is 405 and says to use GET", async (where) => {
    const res = await request(srv.server.url, where, { method: "POST", headers: { "Content-Type": "application/json" } });
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe("GET, HEAD");
    expect(res.body.toString("utf8")).toContain("web console");
    expect(res.headers["content-security-policy"]).toBe(CONSOLE_CSP);
  });

  it("HEAD answers the headers of GET without a body", async () => {
    const page = await request(srv.server.url, "/console/sagas/x", { method: "HEAD" });
    expect(page.status).toBe(200);
    expect(page.headers["content-security-policy"]).toBe(CONSOLE_CSP);
    expect(Number(page.headers["content-length"])).toBe(Buffer.byteLength(index));
    expect(page.body).toHaveLength(0);
    const asset = await request(srv.server.url, script, { method: "HEAD" });
    expect(asset.status).toBe(200);
    expect(asset.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(asset.body).toHaveLength(0);
  });

  it("the RPCs on the same port still work, over POST and over GET", async () => {
    await expect(srv.client().whoAmI({})).resolves.toMatchObject({ tokenName: srv.adminTokenName });
    const get = await request(srv.server.url, `/saga.v1.SagaService/WhoAmI?connect=v1&encoding=json&message=${encodeURIComponent("{}")}`, {
      headers: { Authorization: `Bearer ${srv.adminToken}` },
    });
    expect(get.status).toBe(200);
    expect(JSON.parse(get.body.toString("utf8"))).toMatchObject({ tokenName: srv.adminTokenName });
    // Paths the console does not own are not its business: no CSP, the RPC layer's own 404.
    const other = await request(srv.server.url, "/consoles");
    expect(other.status).toBe(404);
    expect(other.headers["content-security-policy"]).toBeUndefined();
  });
});

describe("a sagad whose console is not built", () => {
  let srv: TestServer;
  let empty: string;

  beforeAll(async () => {
    empty = await mkdtemp(path.join(tmpdir(), "sagad-no-console-"));
    srv = await startTestServer({ consoleDir: empty });
  });

  afterAll(async () => {
    await srv?.close();
    await rm(empty, { recursive: true, force: true });
  });

  it("answers the page with 503 and how to build it, and still serves the API", async () => {
    const res = await request(srv.server.url, "/console/sagas/x");
    expect(res.status).toBe(503);
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.body.toString("utf8")).toContain("npm run build:console");
    expect((await request(srv.server.url, "/")).status).toBe(302);
    expect((await request(srv.server.url, "/console/assets/index-abc.js")).status).toBe(404);
    await expect(srv.client().whoAmI({})).resolves.toMatchObject({ tokenName: srv.adminTokenName });
  });
});
