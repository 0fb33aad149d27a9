import type { Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { Authenticated } from "../auth/token-cache.js";
import { DomainError } from "../domain/errors.js";
import { accessFor, isAllowed } from "./method-scopes.js";
import { principalKey } from "./principal.js";

/** What the interceptor needs from the token cache. */
export interface TokenVerifier {
  authenticate(token: string): Authenticated | null;
}

/** `Bearer <token>`, scheme case-insensitive as RFC 9110 says; one token, no spaces in it. */
const BEARER = /^Bearer +(\S+) *$/i;

/**
 * Enforces the access table (method-scopes.ts) for every RPC, so no handler checks access itself.
 * The token comes from `Authorization: Bearer <token>` (gRPC sends it as metadata, which is the
 * same HTTP/2 header). Missing, malformed, unknown and revoked tokens are UNAUTHENTICATED with the
 * same message for the last three, so a caller learns nothing about which tokens exist; a valid
 * token without the scope is PERMISSION_DENIED naming the scope needed. On success the principal
 * goes into the context for the handlers (which record its name on the events they cause).
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
    if (!isAllowed(principal.scopes, access.scope)) {
      const alternatives = access.scope === "admin" ? "" : " (or admin)";
      throw new DomainError("PERMISSION_DENIED", `${method} needs scope ${access.scope}${alternatives}`, [], {
        method,
        required_scope: access.scope,
      });
    }
    req.contextValues.set(principalKey, principal);
    return next(req);
  };
}
