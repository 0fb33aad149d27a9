import { readdir, readFile } from "node:fs/promises";

// Linux reports process times in clock ticks; USER_HZ is 100 on every architecture Node runs on.
const TICK_MS = 10;

/**
 * CPU time (ms, user + system) used so far by the Chromium this process launched: its browser
 * process (a child of ours named `chromium`) and every descendant still running (renderers, GPU,
 * network and utility processes). Other Chromiums on the shared machine, e.g. browser tests run
 * alongside, are not counted; the machine's busy share would count them.
 */
export async function chromiumCpuMs(): Promise<number> {
  const procs = new Map<number, { ppid: number; comm: string; ticks: number }>();
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      procs.set(Number(entry), { ppid: Number(fields[1]), comm, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // exited between the listing and the read
    }
  }
  const isOurs = (pid: number): boolean => {
    for (let p = procs.get(pid), hops = 0; p && hops < 32; p = procs.get(p.ppid), hops++) {
      if (p.ppid === process.pid) return p.comm === "chromium";
    }
    return false;
  };
  let ticks = 0;
  for (const [pid, p] of procs) if (isOurs(pid)) ticks += p.ticks;
  return ticks * TICK_MS;
}
