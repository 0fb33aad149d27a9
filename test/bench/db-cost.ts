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

/** One statement's share of the database's work, from pg_stat_statements. */
export interface StatementCost {
  query: string;
  calls: number;
  meanExecMs: number;
  meanPlanMs: number;
  totalMs: number;
  rowsPerCall: number;
}

/** Starts pg_stat_statements afresh, so what follows is measured on its own. */
export async function resetStatements(databaseUrl: string, statementStats: boolean): Promise<void> {
  if (statementStats) await withClient(databaseUrl, (c) => c.query("SELECT pg_stat_statements_reset()"));
}

/** The statements that cost Postgres the most time so far (null without pg_stat_statements). */
export async function topStatements(databaseUrl: string, statementStats: boolean, limit = 8): Promise<StatementCost[] | null> {
  if (!statementStats) return null;
  return withClient(databaseUrl, async (c) => {
    const { rows } = await c.query<{ query: string; calls: string; exec: number; plan: number; total: number; rows: string }>(
      `SELECT regexp_replace(left(query, 120), '[[:space:]]+', ' ', 'g') AS query, calls, mean_exec_time AS exec,
              coalesce(mean_plan_time, 0) AS plan, total_exec_time + coalesce(total_plan_time, 0) AS total, rows
       FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
       ORDER BY total DESC LIMIT $1`,
      [limit],
    );
    const r2 = (x: number) => Math.round(x * 1000) / 1000;
    return rows.map((r) => ({
      query: r.query,
      calls: Number(r.calls),
      meanExecMs: r2(r.exec),
      meanPlanMs: r2(r.plan),
      totalMs: Math.round(r.total),
      rowsPerCall: r2(Number(r.rows) / Math.max(1, Number(r.calls))),
    }));
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
