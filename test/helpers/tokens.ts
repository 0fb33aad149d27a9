import { randomBytes } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import type { SagaClient } from "../../src/client/index.js";
import { issueToken, type IssuedToken } from "../../src/auth/issue-token.js";
import type { Scope } from "../../src/domain/scopes.js";
import type { Queryable } from "../../src/store/token-store.js";

/**
 * Creates an API token straight in the database (as `sagad token create` does) and returns it.
 * Servers see it at start, or within moments through NOTIFY; tests that need it at once on a
 * running server reload that server's cache (TestServer.issueToken does).
 */
export async function createTestToken(db: Queryable, scopes: readonly Scope[] = ["admin"], name?: string): Promise<IssuedToken> {
  const tokenName = name ?? `test-${scopes.join("+").replaceAll(":", "-")}-${randomBytes(3).toString("hex")}`;
  const issued = await issueToken(db, tokenName, scopes);
  if (issued === null) throw new Error(`a token named ${tokenName} already exists`);
  return issued;
}

/** Whether the server behind `client` accepts its token now (a cheap read; UNAUTHENTICATED is false). */
export async function accepted(client: SagaClient): Promise<boolean> {
  try {
    await client.listSagas({ pageSize: 1 });
    return true;
  } catch (err) {
    if (ConnectError.from(err).code === Code.Unauthenticated) return false;
    throw err;
  }
}
