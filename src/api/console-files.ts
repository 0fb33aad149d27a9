import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import type { RequestHandler } from "./http-server.js";

type Response = Parameters<RequestHandler>[1];

/** Where the console lives on the port; `/` redirects here. */
export const CONSOLE_BASE = "/console/";

/**
 * The page may load only its own files and talk only to its own origin: no inline script or
 * style, no eval, no framing, no form posts elsewhere. An output holding `<script>` that somehow
 * reached the DOM as markup would still not run.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS = {
  "Content-Security-Policy": CONSOLE_CSP,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
};

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".json": "application/json",
};

/** Built file names are Vite's `name-hash.ext`; nothing else (no `..`, no folders) is served. */
const ASSET_NAME = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.[a-z0-9]+$/;

/**
 * The console's built files (dist/console, made by `npm run build:console`, which `npm ci` runs
 * through `prepare`), found from this module whether it runs from src/ (tsx) or dist/src/.
 */
export function defaultConsoleDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return path.join(dir, "dist", "console");
}

/**
 * Serves the console on the main port: `/` and `/console` redirect to `/console/`; hashed files
 * under `/console/assets/` are cached for a year (their names change with their content); every
 * other `/console/…` path gets index.html, revalidated on each load, so deep links work and a new
 * build is picked up at once. Everything else goes to `next`. The console holds no data and no
 * privilege, so these files need no token: the operator's token is checked on each RPC.
 */
export function withConsole(next: RequestHandler, dir: string = defaultConsoleDir()): RequestHandler {
  const gzipped = new Map<string, Buffer>();
  return (req, res) => {
    const url = req.url ?? "/";
    const pathname = url.split("?", 1)[0]!;
    if (pathname !== "/" && pathname !== "/console" && !pathname.startsWith(CONSOLE_BASE)) return next(req, res);
    if (req.method !== "GET" && req.method !== "HEAD") {
      // POST / could be a misdirected RPC; say what is here instead of a bare 405.
      res.writeHead(405, { Allow: "GET, HEAD", "Content-Type": "text/plain; charset=utf-8", ...SECURITY_HEADERS });
      res.end(`${req.method} not allowed: ${pathname} serves the web console; use GET\n`);
      return;
    }
    req.resume();
    if (pathname === "/" || pathname === "/console") {
      res.writeHead(302, { Location: CONSOLE_BASE, "Cache-Control": "no-store", ...SECURITY_HEADERS });
      res.end();
      return;
    }
    const assets = `${CONSOLE_BASE}assets/`;
    const send = pathname.startsWith(assets)
      ? sendAsset(res, dir, pathname.slice(assets.length), acceptsGzip(req.headers["accept-encoding"]), gzipped, req.method === "HEAD")
      : sendIndex(res, dir, req.method === "HEAD", req.headers["if-none-match"]);
    send.catch(() => {
      if (!res.headersSent) plain(res, 500, "internal error\n");
      else res.destroy();
    });
  };
}

async function sendIndex(res: Response, dir: string, head: boolean, ifNoneMatch: string | undefined): Promise<void> {
  let html: Buffer;
  try {
    html = await readFile(path.join(dir, "index.html"));
  } catch {
    return plain(res, 503, "the web console is not built here: run `npm run build:console` (npm ci does it)\n");
  }
  const etag = `"${createHash("sha256").update(html).digest("base64url").slice(0, 22)}"`;
  const headers = { ...SECURITY_HEADERS, "Cache-Control": "no-cache", ETag: etag };
  if (ifNoneMatch === etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, "Content-Type": "text/html; charset=utf-8", "Content-Length": html.length });
  if (head) res.end();
  else res.end(html);
}

async function sendAsset(res: Response, dir: string, name: string, gzip: boolean, gzipped: Map<string, Buffer>, head: boolean): Promise<void> {
  const type = TYPES[path.extname(name)];
  if (!ASSET_NAME.test(name) || type === undefined) return plain(res, 404, "no such console file\n");
  let body: Buffer;
  try {
    body = gzip ? (gzipped.get(name) ?? (await readFile(path.join(dir, "assets", name)))) : await readFile(path.join(dir, "assets", name));
  } catch {
    return plain(res, 404, "no such console file (the console was rebuilt? reload the page)\n");
  }
  if (gzip && !gzipped.has(name)) {
    // Hashed names never change content, so each is compressed once per process.
    body = gzipSync(body, { level: 9 });
    gzipped.set(name, body);
  }
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    "Content-Type": type,
    "Content-Length": body.length,
    "Cache-Control": "public, max-age=31536000, immutable",
    Vary: "Accept-Encoding",
    ...(gzip ? { "Content-Encoding": "gzip" } : {}),
  });
  if (head) res.end();
  else res.end(body);
}

/** Whether Accept-Encoding lists gzip with a weight above 0 (`gzip`, `gzip;q=0.5`; not `gzip;q=0`). */
function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  for (const entry of header.split(",")) {
    const [coding, ...params] = entry.split(";").map((part) => part.trim().toLowerCase());
    if (coding !== "gzip") continue;
    const weight = params.find((p) => p.startsWith("q="));
    return weight === undefined || Number(weight.slice(2)) > 0;
  }
  return false;
}

function plain(res: Response, status: number, body: string): void {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store", ...SECURITY_HEADERS });
  res.end(body);
}

/** Whether this checkout or package has a built console (main.ts says so at start when it has not). */
export function consoleIsBuilt(dir: string = defaultConsoleDir()): boolean {
  return existsSync(path.join(dir, "index.html"));
}

