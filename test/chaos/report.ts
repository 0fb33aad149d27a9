import type { ChaosOptions } from "./flags.js";
import type { ScenarioResult } from "./scenario.js";

/** The whole run, as printed on stdout. */
export interface ChaosReport {
  passed: boolean;
  startedAt: string;
  seconds: number;
  options: Omit<ChaosOptions, "only"> & { only: string[] };
  summary: {
    faultsInjected: number;
    sagasRun: number;
    lost: number;
    stuck: number;
    duplicates: number;
    checks: number;
    checksFailed: number;
  };
  scenarios: ScenarioResult[];
  /** Scenarios that threw instead of finishing, with the error. */
  crashed: { scenario: string; error: string }[];
}

export function summarize(results: readonly ScenarioResult[]): ChaosReport["summary"] {
  const sum = (f: (r: ScenarioResult) => number) => results.reduce((n, r) => n + f(r), 0);
  return {
    faultsInjected: sum((r) => r.faults.filter((f) => f.injected).length),
    sagasRun: sum((r) => r.sagas),
    lost: sum((r) => r.lost),
    stuck: sum((r) => r.stuck),
    duplicates: sum((r) => r.duplicates),
    checks: sum((r) => r.checks.length),
    checksFailed: sum((r) => r.checks.filter((c) => !c.held).length),
  };
}

/** The readable summary on stderr: headline counters, each scenario's checks, what failed and why. */
export function printSummary(report: ChaosReport): void {
  const out: string[] = [];
  const s = report.summary;
  out.push("", `chaos ${report.passed ? "PASSED" : "FAILED"} in ${report.seconds}s (size ${report.options.size}, seed ${report.options.seed})`);
  out.push(
    `faults injected ${s.faultsInjected}, sagas run ${s.sagasRun}, lost ${s.lost}, stuck ${s.stuck}, duplicates ${s.duplicates}, ` +
      `checks ${s.checks - s.checksFailed}/${s.checks} held`,
  );
  for (const r of report.scenarios) {
    out.push("", `[${r.passed ? "pass" : "FAIL"}] ${r.scenario} (${r.seconds}s): ${r.faults.filter((f) => f.injected).length} faults, ${r.sagas} sagas, lost ${r.lost}, stuck ${r.stuck}, duplicates ${r.duplicates}`);
    for (const f of r.faults) out.push(`    ${String(f.atS).padStart(6)}s  ${f.kind} ${f.detail}`);
    const width = Math.max(...r.checks.map((c) => c.name.length));
    for (const c of r.checks) out.push(`  ${c.held ? "ok  " : "FAIL"} ${c.name.padEnd(width)}  ${c.observed}`);
    for (const line of highlights(r)) out.push(`  ${line}`);
    if (!r.passed) {
      const problems = (r.details["problems"] as string[] | undefined) ?? [];
      for (const p of problems.slice(0, 10)) out.push(`  ! ${p}`);
    }
  }
  for (const c of report.crashed) out.push("", `[CRASH] ${c.scenario}: ${c.error}`);
  process.stderr.write(`${out.join("\n")}\n`);
}

/** Informational numbers worth a line of their own. */
function highlights(r: ScenarioResult): string[] {
  const d = r.details;
  const lines: string[] = [];
  if (typeof d["recoveries"] === "number") {
    lines.push(`info: ${d["targetCalls"]} target calls, ${d["recoveries"]} STEP_RECOVERED, ${d["recoveredReruns"]} same-attempt re-runs after takeover, ${d["deferrals"]} deferrals`);
  }
  const client = d["client"] as { calls: number; retried: Record<string, number>; watchResumes: number; deadlineHitsDuringFault: number } | undefined;
  if (client) {
    const retried = Object.entries(client.retried).map(([k, v]) => `${k}×${v}`).join(", ") || "none";
    lines.push(`info: ${client.calls} RPCs, retried: ${retried}; ${client.watchResumes} watch resumes; ${client.deadlineHitsDuringFault} deadline hits during faults`);
  }
  const journal = d["journal"] as { handlerStarts: number; redeliveries: number; staleRefusals: number; alreadyRecorded: number; unanswered: number } | undefined;
  if (journal) {
    lines.push(
      `info: workers' journals: ${journal.handlerStarts} handler starts, ${journal.redeliveries} re-deliveries, ${journal.staleRefusals} results refused as stale, ` +
        `${journal.alreadyRecorded} answered already_recorded, ${journal.unanswered} never answered`,
    );
  }
  if (typeof d["warmupS"] === "number") {
    lines.push(`info: ${d["completed"]} sagas completed (${d["sagasPerSecond"]}/s); memory windows [${d["warmupS"]}s, +${d["windowS"]}s] vs the last ${d["windowS"]}s`);
  }
  return lines;
}
