import type { Scope } from "../domain/scopes.js";
import { insertToken, insertTokenIfNoneActive, type Queryable } from "../store/token-store.js";
import { generateToken } from "./token-format.js";

/** A token just created: the bearer string is in memory only here, to be shown once. */
export interface IssuedToken {
  readonly name: string;
  readonly keyId: string;
  /** `sagad_<key id>_<secret>`; never stored, never logged. */
  readonly token: string;
}

/**
 * Creates a token with the given (already validated) name and scopes. Returns null when the name
 * is taken: names are unique forever, revoked tokens included, so a name in a saga's history
 * always means one token.
 */
export async function issueToken(db: Queryable, name: string, scopes: readonly Scope[]): Promise<IssuedToken | null> {
  const fresh = generateToken();
  const created = await insertToken(db, { keyId: fresh.keyId, name, scopes: [...new Set(scopes)], secretHash: fresh.secretHash });
  return created ? { name, keyId: fresh.keyId, token: fresh.token } : null;
}

/**
 * The embedded first start: an admin token, but only while no active token exists (see
 * {@link insertTokenIfNoneActive}); null when one does.
 */
export async function issueBootstrapToken(db: Queryable): Promise<IssuedToken | null> {
  const fresh = generateToken();
  const name = await insertTokenIfNoneActive(db, { keyId: fresh.keyId, scopes: ["admin"], secretHash: fresh.secretHash });
  return name === null ? null : { name, keyId: fresh.keyId, token: fresh.token };
}

/**
 * What `npm start` prints (to stdout, never to the log) after creating the bootstrap token: the
 * secret, once, and how to make tokens with fewer rights.
 */
export function bootstrapNotice(issued: IssuedToken): string {
  return [
    `sagad: no API token existed, so it created the admin token "${issued.name}". It is shown only this once:`,
    "",
    `    ${issued.token}`,
    "",
    'Send it as "Authorization: Bearer <token>". Create tokens with only the scopes a caller needs:',
    "    npm run -s sagad -- token create --name NAME --scope sagas:read [--scope sagas:execute]",
    "",
  ].join("\n");
}
