/**
 * What an API token may do. `admin` includes everything; `sagas:read` and `sagas:execute` are
 * independent (a token that creates sagas and watches them needs both), as in the seed.
 */
export const SCOPES = ["sagas:read", "sagas:execute", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}
