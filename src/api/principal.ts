import { createContextKey } from "@connectrpc/connect";
import type { Scope } from "../domain/scopes.js";

/** Who is calling: the API token the auth interceptor accepted for this request. */
export interface Principal {
  /** The token's name (never its secret); recorded on the events its operations cause. */
  readonly tokenName: string;
  readonly scopes: ReadonlySet<Scope>;
}

/** Set by the auth interceptor; undefined for methods that need no token (health, reflection). */
export const principalKey = createContextKey<Principal | undefined>(undefined, { description: "sagad principal" });
