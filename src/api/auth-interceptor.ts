import type { Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { Authenticated } from "../auth/token-cache.js";
import { DomainError } from "../domain/errors.js";
import { accessFor, isAllowed } from "./method-scopes.js";
import { principalKey } from "./principal.js";

/** What the interceptor needs from the token cache. */
export interface TokenVerifier {
  authenticate(token: string): Authenticated | null;
  /** Called after every reload of the tokens; returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
}

/** `Bearer <token>`, scheme case-insensitive as RFC 9110 says; one token, no spaces in it. */
const BEARER = /^Bearer +(\S+) *$/i;

/**
 * Enforces the access table (method-scopes.ts) for every RPC, so no handler checks access itself.
 * The token comes from `Authorization: Bearer <token>` (gRPC sends it as metadata, which is the
 * same HTTP/2 header). Missing, malformed, unknown and revoked tokens are UNAUTHENTICATED; unknown
 * and revoked ones get the same message, so a caller learns nothing about which tokens exist. A
 * valid token without the scope is PERMISSION_DENIED naming the scope needed. A valid token's
 * principal goes into the context (before the scope check, so the RPC log names who was refused)
 * for the handlers, which record its name on the events they cause. A response stream ends with
 * UNAUTHENTICATED once its token is revoked, so revocation reaches open WatchSaga streams too.
 *
 * It throws domain errors, so it must run inside errorInterceptor (later in the interceptors
 * array), which turns them into Connect codes with ErrorInfo details.
 */
export function authInterceptor(tokens: TokenVerifier, logger: Logger): Interceptor {
  return (next) => async (req) => {
    const method = req.method.name;
    const access = accessFor(req.service.typeName, method);
    if (access.kind === "public") return next(req);
    if (access.kind === "unknown") {
      // A method served but missing from the table is a bug; refuse it rather than guess.
      logger.error({ method: `${req.service.typeName}/${method}` }, "method has no entry in the access table; refused");
      throw new DomainError("PERMISSION_DENIED", `${method} has no access rule, so nobody may call it`, [], { method });
    }
    const header = req.header.get("authorization");
    if (header === null || header.trim() === "") {
      throw new DomainError("UNAUTHENTICATED", `${method} needs an API token: send the header "Authorization: Bearer <token>"`, [], { method });
    }
    const token = BEARER.exec(header)?.[1];
    if (token === undefined) {
      throw new DomainError("UNAUTHENTICATED", 'malformed Authorization header: expected "Bearer <token>"', [], { method });
    }
    const principal = tokens.authenticate(token);
    if (principal === null) {
      throw new DomainError("UNAUTHENTICATED", "the API token is invalid or revoked", [], { method });
    }
    req.contextValues.set(principalKey, principal);
    if (!isAllowed(principal.scopes, access.scope)) {
      const alternatives = access.scope === "admin" ? "" : " (or admin)";
      throw new DomainError("PERMISSION_DENIED", `${method} needs scope ${access.scope}${alternatives}`, [], {
        method,
        required_scope: access.scope,
      });
    }
    const res = await next(req);
    if (!res.stream) return res;
    return { ...res, message: endWhenRevoked(res.message, tokens, token, method) };
  };
}

const REVOKED = Symbol("revoked");

/**
 * Passes a response stream through until the token that opened it no longer authenticates (this
 * replica's cache reloaded without it), then ends it with UNAUTHENTICATED. Without this a
 * `follow` WatchSaga opened before a revocation would stream saga data for as long as it stays
 * open. The check runs on each reload of the token cache, not per message. Each wait makes its
 * own promise: racing every message against one long-lived "revoked" promise would leave a
 * reaction on it per message, kept until the stream ends (~350 bytes each on a follow stream).
 */
async function* endWhenRevoked<T>(stream: AsyncIterable<T>, tokens: TokenVerifier, token: string, method: string): AsyncGenerator<T> {
  let isRevoked = false;
  let interrupt: ((value: typeof REVOKED) => void) | null = null;
  const unsubscribe = tokens.onChange(() => {
    if (tokens.authenticate(token) !== null) return;
    isRevoked = true;
    interrupt?.(REVOKED);
  });
  const refusal = () => new DomainError("UNAUTHENTICATED", "the API token was revoked", [], { method });
  const it = stream[Symbol.asyncIterator]();
  let inFlight = false;
  try {
    for (;;) {
      if (isRevoked) throw refusal();
      const next = it.next();
      inFlight = true;
      const first = await new Promise<IteratorResult<T> | typeof REVOKED>((resolve, reject) => {
        interrupt = resolve;
        next.then(resolve, reject);
      });
      interrupt = null;
      if (first === REVOKED) {
        next.catch(() => undefined); // the stream is being ended; what it says now is moot
        throw refusal();
      }
      inFlight = false;
      if (first.done) return;
      yield first.value;
    }
  } finally {
    unsubscribe();
    // A handler still busy ends when the call's signal aborts, which happens only after this
    // error has left: waiting for it here would wait forever.
    if (inFlight) void it.return?.().catch(() => undefined);
    else await it.return?.();
  }
}
