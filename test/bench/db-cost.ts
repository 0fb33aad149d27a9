import { withClient } from "./environment.js";

/** Counters of the benchmark database, read before and after a measured run. */
export interface DbCounters {
  commits: number;
  rowsWritten: number;
  walBytes: bigint;
  /** Null when pg_stat_statements is not loaded on the server. */
  statements: number | null;
}

export async function readCounters(databaseUrl: string, statementStats: boolean): Promise<DbCounters> {
  // Backends report their statistics at most once a second, when idle.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  return withClient(databaseUrl, async (c) => {
    await c.query("SELECT pg_stat_clear_snapshot()");
    const db = await c.query<{ commits: string; rows: string; lsn: string }>(
      `SELECT xact_commit AS commits, tup_inserted + tup_updated + tup_deleted AS rows,
              pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS lsn
       FROM pg_stat_database WHERE datname = current_database()`,
    );
    let statements: number | null = null;
    if (statementStats) {
      const s = await c.query<{ calls: string }>(
        "SELECT coalesce(sum(calls), 0) AS calls FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
      );
      statements = Number(s.rows[0]!.calls);
    }
    const row = db.rows[0]!;
    return { commits: Number(row.commits), rowsWritten: Number(row.rows), walBytes: BigInt(row.lsn.split(".")[0]!), statements };
  });
}

export interface DbCost {
  commitsPerStep: number;
  statementsPerStep: number | null;
  rowsWrittenPerStep: number;
  /** Cluster-wide WAL: anything else writing to the same server counts too. */
  walBytesPerStep: number;
}

export function costPerStep(before: DbCounters, after: DbCounters, steps: number): DbCost {
  const per = (a: number, b: number) => Math.round(((b - a) / steps) * 100) / 100;
  return {
    commitsPerStep: per(before.commits, after.commits),
    statementsPerStep: before.statements === null || after.statements === null ? null : per(before.statements, after.statements),
    rowsWrittenPerStep: per(before.rowsWritten, after.rowsWritten),
    walBytesPerStep: Math.round(Number(after.walBytes - before.walBytes) / steps),
  };
}
