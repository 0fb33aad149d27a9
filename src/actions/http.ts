import type { Json, JsonObject } from "../domain/types.js";
import { ActionError, abortedError, type Action, type ActionContext } from "./action.js";
import { parseDuration } from "./sleep.js";

export interface HttpActionOptions {
  /** Sent on every request and winning over step headers; the engine sets `X-Sagad-Replica` here. */
  extraHeaders?: Record<string, string>;
  /** Larger response bodies fail the step with RESPONSE_TOO_LARGE. Default 1 MiB. */
  maxResponseBytes?: number;
}

interface HttpRequest {
  method: string;
  url: URL;
  headers: Headers;
  body: string | undefined;
  timeoutMs: number;
  expectStatus: readonly number[] | undefined;
}

const CONFIG_KEYS = new Set(["method", "url", "headers", "body", "timeout", "expect_status"]);
const EXCERPT_CHARS = 200;

/**
 * Calls an HTTP endpoint. Config: `url` (http/https, required), `method` (default GET, or POST
 * when `body` is set), `headers` (strings), `body` (any JSON, sent as application/json),
 * `timeout` (duration, 0 = none; on top of `ctx.signal`), `expect_status` (success statuses,
 * default any 2xx). Unknown keys are rejected so a typo cannot silently change behaviour.
 *
 * Every request carries `Idempotency-Key: <ctx.idempotencyKey>` (unless the step sets its own),
 * `X-Sagad-Attempt`, `X-Sagad-Saga-Id` and `X-Sagad-Step`, then `options.extraHeaders`.
 *
 * Output: `{ status, headers, body }`; `headers` holds every response header by lowercase name
 * except `set-cookie` (credentials do not belong in saga outputs); `body` is parsed JSON when the
 * content type is JSON and parses, else the text (decoded as UTF-8), null when a JSON body is empty.
 *
 * Failures: 408/429/5xx → retryable HTTP_408/HTTP_429/HTTP_5XX; other 4xx → HTTP_4XX and any other
 * unexpected status → HTTP_UNEXPECTED_STATUS, both non-retryable; connection errors → retryable
 * HTTP_NETWORK; `timeout` → retryable TIMEOUT; `ctx.signal` → ABORTED. Messages name the method
 * and URL (query string elided, it often carries secrets), the status and a body excerpt.
 */
export function createHttpAction(options: HttpActionOptions = {}): Action {
  const maxBytes = options.maxResponseBytes ?? 1024 * 1024;
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
    throw new Error(`maxResponseBytes must be a positive integer, got ${maxBytes}`);
  }
  const extraHeaders = new Headers(options.extraHeaders); // throws now on an invalid header
  return {
    name: "http",
    run: async (ctx) => runHttp(ctx, parseConfig(ctx.config), extraHeaders, maxBytes),
    circuitKey: httpCircuitKey,
  };
}

/**
 * One breaker per target host (with its port, as in the URL: two services on one machine are two
 * targets). A config without a usable url gets the action-wide key; `run` rejects it anyway.
 */
export function httpCircuitKey(config: JsonObject): string {
  const url = config["url"];
  if (typeof url !== "string") return "http";
  try {
    const host = new URL(url).host;
    return host ? `http ${host}` : "http";
  } catch {
    return "http";
  }
}

async function runHttp(ctx: ActionContext, req: HttpRequest, extra: Headers, maxBytes: number): Promise<JsonObject> {
  const headers = new Headers(req.headers);
  if (!headers.has("idempotency-key")) headers.set("idempotency-key", ctx.idempotencyKey);
  headers.set("x-sagad-attempt", String(ctx.attempt));
  headers.set("x-sagad-saga-id", ctx.sagaId);
  headers.set("x-sagad-step", ctx.step);
  extra.forEach((value, name) => headers.set(name, value));

  const target = `${req.method} ${req.url.origin}${req.url.pathname}${req.url.search ? "?…" : ""}`;
  if (ctx.signal.aborted) throw abortedError(ctx.signal, target);
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(ctx.signal.reason);
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  let timedOut = false;
  const timer =
    req.timeoutMs > 0
      ? setTimeout(() => {
          timedOut = true;
          controller.abort(new Error(`timed out after ${req.timeoutMs}ms`));
        }, req.timeoutMs)
      : undefined;
  try {
    const started = Date.now();
    const init: RequestInit = { method: req.method, headers, signal: controller.signal };
    if (req.body !== undefined) init.body = req.body;
    const response = await fetch(req.url, init);
    const { text, tooLarge } = await readLimited(response, maxBytes);
    ctx.logger.debug({ target, status: response.status, ms: Date.now() - started }, "http action response");
    const ok = req.expectStatus?.includes(response.status) ?? (response.status >= 200 && response.status < 300);
    if (!ok) throw statusError(target, response.status, text);
    if (tooLarge) {
      throw new ActionError(`${target} -> ${response.status}: response body exceeds ${maxBytes} bytes`, {
        kind: "RESPONSE_TOO_LARGE",
        retryable: false,
      });
    }
    const contentType = response.headers.get("content-type") ?? "";
    return { status: response.status, headers: outputHeaders(response.headers), body: parseBody(text, contentType) };
  } catch (err) {
    if (err instanceof ActionError) throw err;
    if (timedOut) {
      throw new ActionError(`${target} timed out after ${req.timeoutMs}ms`, { kind: "TIMEOUT", retryable: true, cause: err });
    }
    if (ctx.signal.aborted) throw abortedError(ctx.signal, target);
    throw new ActionError(`${target} failed: ${describe(err)}`, { kind: "HTTP_NETWORK", retryable: true, cause: err });
  } finally {
    clearTimeout(timer);
    ctx.signal.removeEventListener("abort", onAbort);
  }
}

/** Reads at most `max` bytes, cancelling the rest, so a huge body cannot exhaust memory. */
async function readLimited(response: Response, max: number): Promise<{ text: string; tooLarge: boolean }> {
  if (!response.body) return { text: "", tooLarge: false };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.byteLength > max) {
      chunks.push(value.subarray(0, max - size));
      await reader.cancel().catch(() => undefined);
      return { text: Buffer.concat(chunks).toString("utf8"), tooLarge: true };
    }
    chunks.push(value);
    size += value.byteLength;
  }
  return { text: Buffer.concat(chunks).toString("utf8"), tooLarge: false };
}

function statusError(target: string, status: number, text: string): ActionError {
  const excerpt = text.replace(/\s+/g, " ").trim();
  const shown = excerpt.length > EXCERPT_CHARS ? `${excerpt.slice(0, EXCERPT_CHARS)}…` : excerpt;
  const message = `${target} -> ${status}${shown ? `: ${shown}` : ""}`;
  if (status === 408 || status === 429) return new ActionError(message, { kind: `HTTP_${status}`, retryable: true });
  if (status >= 500) return new ActionError(message, { kind: "HTTP_5XX", retryable: true });
  if (status >= 400) return new ActionError(message, { kind: "HTTP_4XX", retryable: false });
  return new ActionError(message, { kind: "HTTP_UNEXPECTED_STATUS", retryable: false });
}

function outputHeaders(headers: Headers): JsonObject {
  const out: JsonObject = {};
  headers.forEach((value, name) => {
    if (name !== "set-cookie") out[name] = value;
  });
  return out;
}

function parseBody(text: string, contentType: string): Json {
  if (!/^application\/([a-z0-9.+-]*\+)?json\b/i.test(contentType.trim())) return text;
  if (text.trim() === "") return null;
  try {
    return JSON.parse(text) as Json;
  } catch {
    return text;
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause: unknown = err.cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return `${err.message} (${typeof code === "string" ? `${code}: ` : ""}${cause.message})`;
  }
  return err.message;
}

function parseConfig(config: JsonObject): HttpRequest {
  for (const key of Object.keys(config)) {
    if (!CONFIG_KEYS.has(key)) invalid(`unknown key config.${key}; expected one of ${[...CONFIG_KEYS].join(", ")}`);
  }
  const rawUrl = config["url"];
  if (typeof rawUrl !== "string" || rawUrl === "") invalid("config.url is required and must be a string");
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    invalid(`config.url is not a valid URL: ${JSON.stringify(rawUrl)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") invalid(`config.url must be http or https, got ${url.protocol}`);
  if (url.username || url.password) invalid("config.url must not contain credentials; use config.headers");

  const rawBody = config["body"];
  const rawMethod = config["method"] ?? (rawBody === undefined ? "GET" : "POST");
  if (typeof rawMethod !== "string" || !/^[A-Za-z]+$/.test(rawMethod)) invalid("config.method must be an HTTP method name");
  const method = rawMethod.toUpperCase();
  if (rawBody !== undefined && (method === "GET" || method === "HEAD")) invalid(`config.body is not allowed with ${method}`);

  const headers = parseHeaders(config["headers"]);
  const body = rawBody === undefined ? undefined : JSON.stringify(rawBody);
  if (body !== undefined && !headers.has("content-type")) headers.set("content-type", "application/json");

  const timeout = config["timeout"];
  const timeoutMs = timeout === undefined ? 0 : parseDuration(timeout, "timeout");
  return { method, url, headers, body, timeoutMs, expectStatus: parseExpectStatus(config["expect_status"]) };
}

function parseHeaders(raw: Json | undefined): Headers {
  if (raw === undefined) return new Headers();
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) invalid("config.headers must be an object of strings");
  const entries: [string, string][] = [];
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== "string") invalid(`config.headers.${name} must be a string`);
    entries.push([name, value]);
  }
  try {
    return new Headers(entries);
  } catch (err) {
    invalid(`config.headers is invalid: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function parseExpectStatus(raw: Json | undefined): readonly number[] | undefined {
  if (raw === undefined) return undefined;
  const valid = (s: Json): boolean => Number.isInteger(s) && (s as number) >= 100 && (s as number) <= 599;
  if (!Array.isArray(raw) || raw.length === 0 || !raw.every(valid)) {
    invalid("config.expect_status must be a non-empty list of HTTP status codes (100-599)");
  }
  return raw as number[];
}

function invalid(message: string): never {
  throw new ActionError(message, { kind: "INVALID_CONFIG", retryable: false });
}
