/** One memory reading (RSS, or live heap after a full GC) of one replica. */
export interface MemorySample {
  /** Seconds since the soak started. */
  atS: number;
  replica: string;
  mib: number;
}

/** One replica's memory verdict: the first window after warm-up against the last one. */
export interface MemoryWindow {
  replica: string;
  /** [start, end) of each window, in seconds since the start. */
  first: [number, number];
  last: [number, number];
  firstMiB: number;
  lastMiB: number;
  growthPct: number;
  samples: { first: number; last: number };
}

/**
 * "Memory flat" as a number per replica: the average reading of the last `windowS` seconds against
 * the average of the first `windowS` seconds after `warmupS` (the population of sagas and
 * streams is built up, the JIT and the heap have settled). Averages, so one GC cycle's peak or
 * trough does not decide. A replica without samples in both windows is left out.
 */
export function memoryWindows(samples: readonly MemorySample[], warmupS: number, windowS: number, endS: number): MemoryWindow[] {
  const replicas = [...new Set(samples.map((s) => s.replica))];
  const out: MemoryWindow[] = [];
  for (const replica of replicas) {
    const mine = samples.filter((s) => s.replica === replica);
    const first: [number, number] = [warmupS, warmupS + windowS];
    const last: [number, number] = [Math.max(first[1], endS - windowS), endS + 1e-9];
    const inWindow = ([a, b]: [number, number]) => mine.filter((s) => s.atS >= a && s.atS < b).map((s) => s.mib);
    const a = inWindow(first);
    const b = inWindow(last);
    if (a.length === 0 || b.length === 0) continue;
    const firstMiB = mean(a);
    const lastMiB = mean(b);
    out.push({
      replica,
      first,
      last: [last[0], endS],
      firstMiB: round1(firstMiB),
      lastMiB: round1(lastMiB),
      growthPct: round1(((lastMiB - firstMiB) / firstMiB) * 100),
      samples: { first: a.length, last: b.length },
    });
  }
  return out;
}

function mean(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
