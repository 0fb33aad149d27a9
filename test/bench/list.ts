import type { SagaClient } from "../../src/client/index.js";
import { withClient } from "./environment.js";
import { percentiles, type Percentiles } from "./stats.js";

export interface ListResult {
  sagas: number;
  firstPage: Percentiles;
  /** The page after ~90% of the table (keyset token from walking there). */
  deepPage: Percentiles;
}

const SAMPLES = 50;

/** Fills the sagas table up to `total` rows with resting sagas (plain INSERT … SELECT; no steps or events). */
export async function fillSagas(databaseUrl: string, total: number): Promise<void> {
  await withClient(databaseUrl, async (c) => {
    const { rows } = await c.query<{ n: string }>("SELECT count(*) AS n FROM sagas");
    let have = Number(rows[0]!.n);
    while (have < total) {
      const batch = Math.min(100_000, total - have);
      await c.query(
        `INSERT INTO sagas (id, name, status, failure_policy, vars, labels, definition, max_retries, retry_count,
                            cancel_requested, sequence, lease_expires_at, created_at, updated_at, completed_at)
         SELECT gen_random_uuid(), 'bench-list', 'COMPLETED', 'HOLD', '{}', '{"bench":"list"}', '', 0, 0,
                false, 3, '-infinity', now() - make_interval(secs => ($1 + g) / 1000.0), now(), now()
         FROM generate_series(1, $2) AS g`,
        [have, batch],
      );
      have += batch;
    }
    await c.query("ANALYZE sagas");
  });
}

/** ListSagas latency for the first page and for a deep one, `SAMPLES` calls each. */
export async function measureList(client: SagaClient, sagas: number): Promise<ListResult> {
  const first: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t0 = performance.now();
    await client.listSagas({});
    first.push(performance.now() - t0);
  }
  let token = "";
  for (let seen = 0; seen < sagas * 0.9; seen += 1000) {
    const page = await client.listSagas({ pageSize: 1000, pageToken: token });
    if (!page.nextPageToken) break;
    token = page.nextPageToken;
  }
  const deep: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t0 = performance.now();
    await client.listSagas({ pageToken: token });
    deep.push(performance.now() - t0);
  }
  return { sagas, firstPage: percentiles(first), deepPage: percentiles(deep) };
}
