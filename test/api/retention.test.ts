import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_VALIDATION_LIMITS } from "../../src/domain/validate-saga.js";
import { build, type Server } from "../../src/server.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { captureLogs } from "../helpers/log-capture.js";
import { parsePrometheusText, sampleValue } from "../helpers/prometheus-text.js";
import { waitUntil } from "../helpers/wait.js";

const DAY = 86_400_000;

async function addSagas(db: TestDatabase, status: string, ageDays: number, count: number): Promise<void> {
  await db.pool.query(
    `WITH s AS (
       INSERT INTO sagas (id, name, status, failure_policy, vars, labels, definition, max_retries, retry_count,
         cancel_requested, sequence, lease_expires_at, created_at, updated_at, completed_at)
       SELECT gen_random_uuid(), 'retention', $1, 'HOLD', '{}', '{}', '', 0, 0, false, 1, '-infinity', $2, $2, $2
       FROM generate_series(1, $3::int) RETURNING id)
     INSERT INTO saga_events (saga_id, sequence, type, at, body) SELECT id, 1, 'SAGA_CREATED', $2, '{}' FROM s`,
    [status, new Date(Date.now() - ageDays * DAY), count],
  );
}

function start(db: TestDatabase, retentionDays: number | undefined, logger = captureLogs().logger): Promise<Server> {
  return build({
    databaseUrl: db.url,
    host: "127.0.0.1",
    port: 0,
    replicaId: `retention-${process.pid}-${retentionDays}`,
    leaseTtlMs: 10_000,
    pollIntervalMs: 200,
    limits: DEFAULT_VALIDATION_LIMITS,
    maxRequestBytes: 1024 * 1024,
    shutdownGraceMs: 200,
    poolSize: 4,
    logger,
    retentionDays,
  });
}

async function deletedMetric(server: Server): Promise<number | undefined> {
  const body = await (await fetch(`${server.url}/metrics`)).text();
  return sampleValue(parsePrometheusText(body), "sagad_retention_deleted_sagas_total");
}

async function statuses(db: TestDatabase): Promise<string[]> {
  const { rows } = await db.pool.query("SELECT status FROM sagas ORDER BY status");
  return rows.map((r: { status: string }) => r.status);
}

describe("retention through the server", () => {
  let db: TestDatabase | undefined;
  let server: Server | undefined;
  afterEach(async () => {
    await server?.close();
    await db?.drop();
    server = db = undefined;
  });

  it("sweeps at start and counts what it deleted in sagad_retention_deleted_sagas_total", async () => {
    db = await createTestDatabase();
    // Over one default batch (500), so the sweep needs a second batch.
    await addSagas(db, "COMPLETED", 10, 520);
    await addSagas(db, "CANCELLED", 8, 3);
    await addSagas(db, "FAILED", 30, 2);
    await addSagas(db, "COMPENSATION_FAILED", 30, 1);
    await addSagas(db, "COMPLETED", 1, 4);
    const { logger, lines } = captureLogs("info");

    server = await start(db, 7, logger);

    await waitUntil(async () => (await deletedMetric(server!)) === 523, "the metric counts 523 deletions");
    expect(await statuses(db)).toEqual(["COMPENSATION_FAILED", "COMPLETED", "COMPLETED", "COMPLETED", "COMPLETED", "FAILED", "FAILED"]);
    const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM saga_events");
    expect(rows[0]).toEqual({ n: 7 });
    await waitUntil(() => lines.some((l) => l.msg === "retention deleted sagas"), "the sweep's log line");
    expect(lines.find((l) => l.msg === "retention deleted sagas")).toMatchObject({ deleted: 523, batches: 2 });
  });

  it("deletes nothing without --retention-days, and shows the counter at 0", async () => {
    db = await createTestDatabase();
    await addSagas(db, "COMPLETED", 3_650, 2);

    server = await start(db, undefined);
    // A sweeper would have run its first sweep at start, well within this.
    await new Promise((resolve) => setTimeout(resolve, 300));

    expect(await deletedMetric(server)).toBe(0);
    expect(await statuses(db)).toEqual(["COMPLETED", "COMPLETED"]);
  });
});
