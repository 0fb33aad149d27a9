import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { SagaClient } from "../../src/client/index.js";
import { withClient } from "./environment.js";
import { percentiles, type Percentiles } from "./stats.js";

export interface ListResult {
  sagas: number;
  firstPage: Percentiles;
  /** The page after ~90% of the table (keyset token from walking there). */
  deepPage: Percentiles;
  /** The first page again, after every other sample: the buffers are warm by then, as after a while in service. */
  firstPageAgain: Percentiles;
  /** First pages with the definition and creation-time filters (see `fillSagas` for the shares). */
  filtered: {
    /** definition_name + definition_version: 5% of the rows. */
    definitionVersion: Percentiles;
    /** definition_name alone (any version): 10% of the rows, over two versions. */
    definitionAnyVersion: Percentiles;
    /** created_after / created_before: a window over the middle 20% of the table. */
    createdWindow: Percentiles;
    /** definition_name + definition_version inside that window. */
    definitionInWindow: Percentiles;
    /**
     * A dormant definition: 1% of the rows in the older half of the table (none newer), name alone
     * and name + version. Null when the table has none (it is filled only past `dormantFrom`).
     */
    dormantAnyVersion: Percentiles | null;
    dormantVersion: Percentiles | null;
  };
}

const SAMPLES = 50;
/** The definition that a tenth of the filled rows were started from, half version 1, half version 2. */
export const LIST_DEFINITION = "bench-list-def";
/** Started from by 1% of the rows past `dormantFrom` (the older ones), alternately version 1 and 2. */
export const DORMANT_DEFINITION = "bench-list-dormant";

/**
 * Fills the sagas table up to `total` rows with resting sagas (plain INSERT … SELECT; no steps or
 * events), 1 ms apart. Every tenth row was started from `LIST_DEFINITION`, alternately version 1
 * and 2, spread evenly over time as sagas of a busy definition would be. Every hundredth row past
 * `dormantFrom` (counted from the newest) was started from `DORMANT_DEFINITION`, which has no newer sagas.
 */
export async function fillSagas(databaseUrl: string, total: number, dormantFrom: number): Promise<void> {
  await withClient(databaseUrl, async (c) => {
    const { rows } = await c.query<{ n: string }>("SELECT count(*) AS n FROM sagas");
    let have = Number(rows[0]!.n);
    while (have < total) {
      const batch = Math.min(100_000, total - have);
      await c.query(
        `INSERT INTO sagas (id, name, status, failure_policy, vars, labels, definition, max_retries, retry_count,
                            cancel_requested, sequence, lease_expires_at, created_at, updated_at, completed_at,
                            definition_name, definition_version)
         SELECT gen_random_uuid(), 'bench-list', 'COMPLETED', 'HOLD', '{}', '{"bench":"list"}', '', 0, 0,
                false, 3, '-infinity', now() - make_interval(secs => ($1 + g) / 1000.0), now(), now(),
                CASE WHEN ($1 + g) % 10 = 0 THEN $3 WHEN ($1 + g) % 100 = 5 AND $1 + g > $4 THEN $5 END,
                CASE WHEN ($1 + g) % 10 = 0 THEN 1 + (($1 + g) / 10) % 2 WHEN ($1 + g) % 100 = 5 AND $1 + g > $4 THEN 1 + (($1 + g) / 100) % 2 END
         FROM generate_series(1, $2) AS g`,
        [have, batch, LIST_DEFINITION, dormantFrom, DORMANT_DEFINITION],
      );
      have += batch;
    }
    await c.query("ANALYZE sagas");
  });
}

/** ListSagas latency for the first page and for a deep one, `SAMPLES` calls each, then the filtered first pages. */
export async function measureList(client: SagaClient, sagas: number, databaseUrl: string): Promise<ListResult> {
  const first = await sample(() => client.listSagas({}));
  let token = "";
  for (let seen = 0; seen < sagas * 0.9; seen += 1000) {
    const page = await client.listSagas({ pageSize: 1000, pageToken: token });
    if (!page.nextPageToken) break;
    token = page.nextPageToken;
  }
  const deep = await sample(() => client.listSagas({ pageToken: token }));

  // The window: created_at of the sagas 40% and 60% of the way down the table, newest first.
  const at = (offset: number) =>
    withClient(databaseUrl, async (c) => {
      const { rows } = await c.query<{ t: Date }>("SELECT created_at AS t FROM sagas ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1", [offset]);
      return rows[0]!.t.getTime();
    });
  const window = { createdBefore: timestampFromMs(await at(Math.floor(sagas * 0.4))), createdAfter: timestampFromMs(await at(Math.floor(sagas * 0.6))) };
  const definition = { definitionName: LIST_DEFINITION, definitionVersion: 2 };
  const dormant = await withClient(databaseUrl, async (c) => {
    const { rows } = await c.query<{ n: string }>("SELECT count(*) AS n FROM sagas WHERE definition_name = $1 AND definition_version = 1", [DORMANT_DEFINITION]);
    return Number(rows[0]!.n) >= 50;
  });
  const filtered = {
    definitionVersion: await sample(() => client.listSagas(definition)),
    definitionAnyVersion: await sample(() => client.listSagas({ definitionName: LIST_DEFINITION })),
    createdWindow: await sample(() => client.listSagas(window)),
    definitionInWindow: await sample(() => client.listSagas({ ...definition, ...window })),
    dormantAnyVersion: dormant ? await sample(() => client.listSagas({ definitionName: DORMANT_DEFINITION })) : null,
    dormantVersion: dormant ? await sample(() => client.listSagas({ definitionName: DORMANT_DEFINITION, definitionVersion: 1 })) : null,
  };
  const firstPageAgain = await sample(() => client.listSagas({}));
  return { sagas, firstPage: first, deepPage: deep, firstPageAgain, filtered };
}

/** `SAMPLES` calls, one at a time; checks that each returned a full page. */
async function sample(call: () => Promise<{ sagas: unknown[] }>): Promise<Percentiles> {
  const ms: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t0 = performance.now();
    const page = await call();
    ms.push(performance.now() - t0);
    if (page.sagas.length < 50) throw new Error(`ListSagas returned ${page.sagas.length} sagas, expected a full page of 50`);
  }
  return percentiles(ms);
}
