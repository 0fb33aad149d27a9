import { createHash } from "node:crypto";
import type pg from "pg";
import type { DefinitionRecord, DefinitionState } from "../domain/definition-record.js";
import { failedPrecondition, invalidArgument } from "../domain/errors.js";
import type { JsonObject } from "../domain/types.js";

/** What RegisterDefinition stores; the version is chosen here. */
export interface NewDefinition {
  name: string;
  spec: JsonObject;
  specHash: string;
  labels: Record<string, string>;
  stepCount: number;
  createdBy: string;
}

export interface DefinitionPage {
  definitions: DefinitionRecord[];
  nextPageToken: string;
}

interface DefinitionRow {
  name: string;
  version: number;
  spec: JsonObject;
  spec_hash: string;
  state: string;
  labels: Record<string, string>;
  step_count: number;
  created_at: Date;
  created_by: string;
  updated_at: Date;
}

/** Lock namespace for registrations of one name ("sagadef" as ASCII); the name's hash is the second key. */
const REGISTER_LOCK_CLASS = 0x73616764;

function fromRow(row: DefinitionRow): DefinitionRecord {
  return {
    name: row.name,
    version: row.version,
    spec: row.spec,
    specHash: row.spec_hash,
    state: row.state as DefinitionState,
    labels: row.labels,
    stepCount: row.step_count,
    createdAt: row.created_at.getTime(),
    createdBy: row.created_by,
    updatedAt: row.updated_at.getTime(),
  };
}

/** All SQL about definitions. Versions are immutable rows; registrations of one name are serialised. */
export class DefinitionStore {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * The next version of `def.name`, or the latest one unchanged if its spec hash is the same. Runs
   * under a per-name advisory lock so concurrent registrations get consecutive versions and the
   * optimistic check (`expectedLatest`: >0 that version, -1 none, 0 no check) sees the truth.
   */
  async register(def: NewDefinition, expectedLatest: number, now: number): Promise<{ record: DefinitionRecord; created: boolean }> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [REGISTER_LOCK_CLASS, def.name]);
      const latest = await client.query<DefinitionRow>("SELECT * FROM definitions WHERE name = $1 ORDER BY version DESC LIMIT 1", [def.name]);
      const current = latest.rows[0];
      if (current && current.spec_hash === def.specHash) {
        await client.query("COMMIT");
        return { record: fromRow(current), created: false };
      }
      const latestVersion = current?.version ?? 0;
      if (expectedLatest !== 0 && Math.max(expectedLatest, 0) !== latestVersion) {
        const expected = expectedLatest === -1 ? "no version yet" : `latest version ${expectedLatest}`;
        const actual = latestVersion === 0 ? "it has none" : `its latest version is ${latestVersion}`;
        throw failedPrecondition(`definition ${JSON.stringify(def.name)}: expected ${expected}, but ${actual}`, `latest version ${latestVersion}`);
      }
      const inserted = await client.query<DefinitionRow>(
        `INSERT INTO definitions (name, version, spec, spec_hash, state, labels, step_count, created_at, created_by, updated_at)
         VALUES ($1, $2, $3, $4, 'ACTIVE', $5, $6, $7, $8, $7) RETURNING *`,
        [def.name, latestVersion + 1, def.spec, def.specHash, def.labels, def.stepCount, new Date(now), def.createdBy],
      );
      await client.query("COMMIT");
      return { record: fromRow(inserted.rows[0]!), created: true };
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** One version (0: the latest), or null. */
  async get(name: string, version: number): Promise<DefinitionRecord | null> {
    const { rows } = await this.pool.query<DefinitionRow>({
      name: "sagad_get_definition",
      text: "SELECT * FROM definitions WHERE name = $1 AND ($2 = 0 OR version = $2) ORDER BY version DESC LIMIT 1",
      values: [name, version],
    });
    return rows[0] ? fromRow(rows[0]) : null;
  }

  /**
   * The version and state CreateSaga needs, without the spec (a replica caches compiled specs by
   * version, so the create path pays one small index lookup, not the spec's transfer).
   */
  async head(name: string, version: number): Promise<{ version: number; state: DefinitionState } | null> {
    const { rows } = await this.pool.query<{ version: number; state: DefinitionState }>({
      name: "sagad_definition_head",
      text: "SELECT version, state FROM definitions WHERE name = $1 AND ($2 = 0 OR version = $2) ORDER BY version DESC LIMIT 1",
      values: [name, version],
    });
    return rows[0] ?? null;
  }

  /** Sets the state of one version; null if there is no such version. */
  async setState(name: string, version: number, state: DefinitionState, now: number): Promise<DefinitionRecord | null> {
    const { rows } = await this.pool.query<DefinitionRow>(
      `UPDATE definitions SET state = $3, updated_at = CASE WHEN state = $3 THEN updated_at ELSE $4 END
       WHERE name = $1 AND version = $2 RETURNING *`,
      [name, version, state, new Date(now)],
    );
    return rows[0] ? fromRow(rows[0]) : null;
  }

  /** The latest version of each name, by name, filtered on the latest version's labels; keyset on name. */
  async listLatest(filter: { prefix: string; labels: Record<string, string> }, pageSize: number, pageToken: string): Promise<DefinitionPage> {
    const hash = filterHash(["latest", filter.prefix, sortedEntries(filter.labels)]);
    const after = pageToken === "" ? "" : decodeToken(pageToken, hash).k;
    const { rows } = await this.pool.query<DefinitionRow>(
      `SELECT * FROM (
         SELECT DISTINCT ON (name) * FROM definitions
         WHERE name > $1 AND starts_with(name, $2) ORDER BY name, version DESC
       ) latest WHERE labels @> $3::jsonb ORDER BY name LIMIT $4`,
      [after, filter.prefix, JSON.stringify(filter.labels), pageSize + 1],
    );
    return page(rows, pageSize, (last) => ({ k: last.name, f: hash }));
  }

  /** The versions of one name, newest first; keyset on version. */
  async listVersions(name: string, pageSize: number, pageToken: string): Promise<DefinitionPage> {
    const hash = filterHash(["versions", name]);
    const before = pageToken === "" ? 2 ** 31 - 1 : Number(decodeToken(pageToken, hash).k);
    if (!Number.isSafeInteger(before)) throw invalidArgument([{ field: "page_token", description: "not a token returned by this list" }]);
    const { rows } = await this.pool.query<DefinitionRow>(
      "SELECT * FROM definitions WHERE name = $1 AND version < $2 ORDER BY version DESC LIMIT $3",
      [name, before, pageSize + 1],
    );
    return page(rows, pageSize, (last) => ({ k: String(last.version), f: hash }));
  }
}

interface Cursor {
  /** The key of the last row on the page. */
  k: string;
  /** Hash of the filter, so a token is not reused with other filters. */
  f: string;
}

function page(rows: DefinitionRow[], pageSize: number, cursor: (last: DefinitionRow) => Cursor): DefinitionPage {
  const kept = rows.slice(0, pageSize);
  const last = kept[kept.length - 1];
  const nextPageToken = rows.length > pageSize && last ? Buffer.from(JSON.stringify(cursor(last))).toString("base64url") : "";
  return { definitions: kept.map(fromRow), nextPageToken };
}

function sortedEntries(labels: Record<string, string>): [string, string][] {
  return Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1));
}

function filterHash(filter: unknown): string {
  return createHash("sha256").update(JSON.stringify(filter)).digest("base64url").slice(0, 12);
}

function decodeToken(token: string, hash: string): Cursor {
  const bad = (why: string) => invalidArgument([{ field: "page_token", description: why }]);
  let cursor: Cursor;
  try {
    cursor = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as Cursor;
  } catch {
    throw bad("not a token returned by this list");
  }
  if (typeof cursor !== "object" || cursor === null || typeof cursor.k !== "string" || typeof cursor.f !== "string") {
    throw bad("not a token returned by this list");
  }
  if (cursor.f !== hash) throw bad("the token was issued for other filters");
  return cursor;
}
