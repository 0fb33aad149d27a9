/**
 * What an API token may do. `admin` includes everything; the others are independent (a token that
 * creates sagas and watches them needs `sagas:read` and `sagas:execute`, as in the seed; a deploy
 * pipeline that registers definitions needs only `definitions:write`). `workers` is for worker
 * processes: they register, receive tasks and report results, and can neither read nor steer sagas.
 */
export const SCOPES = ["sagas:read", "sagas:execute", "definitions:write", "workers", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}
