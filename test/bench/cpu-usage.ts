import { readdir, readFile } from "node:fs/promises";
import os from "node:os";

/**
 * CPU time (ms, user + system) spent by each party of a run, read from /proc before and after it.
 * On a machine whose cores are shared by the client, sagad and Postgres, a rate means little
 * without knowing who used the cores: these counters say whether a round was CPU-bound and which
 * process paid for each step.
 */
export interface CpuSnapshot {
  sagad: number;
  client: number;
  postgres: number;
  /** Every core's busy time on the machine (from /proc/stat), whoever spent it. */
  machineBusy: number;
  at: number;
}

/** CPU per party over a measured run, as cores used and as CPU ms per step. */
export interface CpuCost {
  cores: { sagad: number; client: number; postgres: number; machine: number };
  msPerStep: { sagad: number; client: number; postgres: number; total: number };
  /** Busy share of all the machine's cores (1 = every core busy the whole run). */
  machineBusyShare: number;
}

// Linux reports process times in clock ticks; USER_HZ is 100 on every architecture Node runs on.
const TICK_MS = 10;

/** Reads the counters now; `sagadPids` are the replicas measured. */
export async function cpuSnapshot(sagadPids: readonly number[]): Promise<CpuSnapshot> {
  const own = process.cpuUsage();
  let sagad = 0;
  for (const pid of sagadPids) sagad += (await processTicks(pid))?.own ?? 0;
  return {
    sagad: sagad * TICK_MS,
    client: (own.user + own.system) / 1000,
    postgres: (await postgresTicks()) * TICK_MS,
    machineBusy: await machineBusyMs(),
    at: performance.now(),
  };
}

/** What the run between two snapshots cost; `steps` is the number of steps it ran. */
export function cpuCost(before: CpuSnapshot, after: CpuSnapshot, steps: number): CpuCost {
  const wallMs = after.at - before.at;
  const spent = {
    sagad: after.sagad - before.sagad,
    client: after.client - before.client,
    postgres: after.postgres - before.postgres,
  };
  const total = spent.sagad + spent.client + spent.postgres;
  const r = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
  const machine = (after.machineBusy - before.machineBusy) / wallMs;
  return {
    cores: { sagad: r(spent.sagad / wallMs, 2), client: r(spent.client / wallMs, 2), postgres: r(spent.postgres / wallMs, 2), machine: r(machine, 2) },
    msPerStep: { sagad: r(spent.sagad / steps, 3), client: r(spent.client / steps, 3), postgres: r(spent.postgres / steps, 3), total: r(total / steps, 3) },
    machineBusyShare: r(machine / os.cpus().length, 2),
  };
}

/** CPU time (ms, user + system) one running process has used so far. */
export async function processCpuMs(pid: number): Promise<number> {
  const ticks = await processTicks(pid);
  if (!ticks) throw new Error(`process ${pid} is gone`);
  return ticks.own * TICK_MS;
}

async function processTicks(pid: number): Promise<{ own: number; children: number; comm: string; ppid: number } | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses and may contain spaces; the fields follow the last ")".
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { own: Number(fields[11]) + Number(fields[12]), children: Number(fields[13]) + Number(fields[14]), comm, ppid: Number(fields[1]) };
  } catch {
    return null; // exited between the listing and the read
  }
}

/**
 * Every postgres process on the machine: the postmaster and its backends. A backend that exits
 * during the run takes its time with it, except that the postmaster reaps it and inherits its
 * time as "children", so the postmaster's children time is counted too.
 */
async function postgresTicks(): Promise<number> {
  const procs = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const p = await processTicks(Number(entry));
    if (p && p.comm.startsWith("postgres")) procs.push({ pid: Number(entry), ...p });
  }
  const pids = new Set(procs.map((p) => p.pid));
  return procs.reduce((sum, p) => sum + p.own + (pids.has(p.ppid) ? 0 : p.children), 0);
}

async function machineBusyMs(): Promise<number> {
  const line = (await readFile("/proc/stat", "utf8")).split("\n")[0]!;
  const [user, nice, system, _idle, _iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user! + nice! + system! + irq! + softirq! + steal!) * TICK_MS;
}
