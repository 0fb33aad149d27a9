import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Clients } from "../api/clients.js";

/** The signed-in operator: who the token is, what it may do, and clients that send it. */
export interface Session {
  readonly tokenName: string;
  readonly scopes: readonly string[];
  readonly clients: Clients;
  /** Forgets the token; `why` is shown on the sign-in page (e.g. the token was revoked). */
  signOut(why?: string): void;
}

/** The scopes a console action needs, as the server's access table says. */
export type Capability = "sagas:read" | "sagas:execute" | "definitions:write" | "admin";

/** Whether a token with these scopes may do what `needed` covers (`admin` covers everything). */
export function allows(scopes: readonly string[], needed: Capability): boolean {
  return scopes.includes("admin") || scopes.includes(needed);
}

export const SessionContext = createContext<Session | null>(null);

/** The current session; pages render only inside a signed-in shell, so it is always there. */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a signed-in console");
  return session;
}
