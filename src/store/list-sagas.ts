import { createHash } from "node:crypto";
import type pg from "pg";
import { invalidArgument } from "../domain/errors.js";
import type { SagaState, SagaStatus } from "../domain/types.js";
import { sagaFromRow, type SagaRow } from "./rows.js";

export interface ListFilter {
  name: string | null;
  status: SagaStatus | null;
  labels: Record<string, string>;
  /** Sagas started from this definition; version 0 means any version. */
  definition: { name: string; version: number } | null;
  /** Epoch ms bounds on created_at: at or after, and before. */
  createdAfter: number | null;
  createdBefore: number | null;
}

export interface ListPage {
  sagas: SagaState[];
  nextPageToken: string;
}

interface Cursor {
  /** created_at of the last saga on the page, as Postgres prints it to the microsecond (exact keyset). */
  c: string;
  i: string;
  /** Hash of the filter, so a token is not reused with other filters. */
  f: string;
}

function filterHash(filter: ListFilter): string {
  const labels = Object.entries(filter.labels).sort(([a], [b]) => (a < b ? -1 : 1));
  const rest = [filter.definition, filter.createdAfter, filter.createdBefore];
  // Tokens issued before the newer filters existed keep working: those filters only join the hash when set.
  const key = rest.every((x) => x === null) ? [filter.name, filter.status, labels] : [filter.name, filter.status, labels, ...rest];
  return createHash("sha256").update(JSON.stringify(key)).digest("base64url").slice(0, 12);
}

function decodeToken(token: string, filter: ListFilter): Cursor {
  const bad = (why: string) => invalidArgument([{ field: "page_token", description: why }]);
  let cursor: Cursor;
  try {
    cursor = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as Cursor;
  } catch {
    throw bad("not a token returned by ListSagas");
  }
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  if (typeof cursor !== "object" || cursor === null || typeof cursor.c !== "string" || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(cursor.c) ||
      typeof cursor.i !== "string" || !uuid.test(cursor.i) || typeof cursor.f !== "string") {
    throw bad("not a token returned by ListSagas");
  }
  // The shape can hold dates that do not exist (month 13, February 30, year 0); Postgres would
  // refuse them with an error that is no fault of ours.
  const ms = Date.parse(cursor.c.slice(0, 23) + "Z");
  if (cursor.c < "0001" || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 19) !== cursor.c.slice(0, 19)) {
    throw bad("not a token returned by ListSagas");
  }
  if (cursor.f !== filterHash(filter)) throw bad("the token was issued for other filters");
  return cursor;
}

/**
 * Newest-first keyset pagination on (created_at, id): a page costs an index range scan however deep
 * it is, and sagas created meanwhile never shift pages. Only the filters present become SQL
 * conditions, so each combination can use its own index.
 */
export async function listSagas(pool: pg.Pool, filter: ListFilter, pageSize: number, pageToken: string): Promise<ListPage> {
  const where: string[] = [];
  const values: unknown[] = [];
  const param = (v: unknown) => `$${values.push(v)}`;
  if (filter.name !== null) where.push(`name = ${param(filter.name)}`);
  if (filter.status !== null) where.push(`status = ${param(filter.status)}`);
  if (Object.keys(filter.labels).length > 0) where.push(`labels @> ${param(JSON.stringify(filter.labels))}::jsonb`);
  if (filter.definition !== null) {
    where.push(`definition_name = ${param(filter.definition.name)}`);
    if (filter.definition.version !== 0) where.push(`definition_version = ${param(filter.definition.version)}`);
  }
  if (filter.createdAfter !== null) where.push(`created_at >= ${param(new Date(filter.createdAfter).toISOString())}::timestamptz`);
  if (filter.createdBefore !== null) where.push(`created_at < ${param(new Date(filter.createdBefore).toISOString())}::timestamptz`);
  if (pageToken !== "") {
    const cursor = decodeToken(pageToken, filter);
    where.push(`(created_at, id) < (${param(cursor.c)}::timestamptz, ${param(cursor.i)}::uuid)`);
  }
  const sql = `SELECT *, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_us FROM sagas
    ${where.length ? "WHERE " + where.join(" AND ") : ""}
    ORDER BY created_at DESC, id DESC LIMIT ${param(pageSize + 1)}`;
  const { rows } = await pool.query(sql, values);
  const page = rows.slice(0, pageSize) as (SagaRow & { created_us: string })[];
  const last = page[page.length - 1];
  const nextPageToken =
    rows.length > pageSize && last
      ? Buffer.from(JSON.stringify({ c: last.created_us, i: last.id, f: filterHash(filter) } satisfies Cursor)).toString("base64url")
      : "";
  return { sagas: page.map((row) => sagaFromRow(row, null)), nextPageToken };
}

