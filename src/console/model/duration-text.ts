/**
 * Durations as an operator reads them: "350 ms", "1.2 s", "2 min 5 s", "3 h 10 min". Two units at
 * most, because a history line or an axis tick has room for a glance, not a stopwatch.
 */
export function durationText(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) ms = 0;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 10_000) return `${trimZero((ms / 1000).toFixed(1))} s`;
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  const totalSeconds = Math.round(ms / 1000);
  if (totalSeconds < 3600) return pair(Math.floor(totalSeconds / 60), "min", totalSeconds % 60, "s");
  const totalMinutes = Math.round(totalSeconds / 60);
  if (totalMinutes < 24 * 60) return pair(Math.floor(totalMinutes / 60), "h", totalMinutes % 60, "min");
  const totalHours = Math.round(totalMinutes / 60);
  return pair(Math.floor(totalHours / 24), "d", totalHours % 24, "h");
}

/** A wall-clock time with milliseconds, in the browser's zone: event times are that precise. */
export function clockText(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

function pair(big: number, bigUnit: string, small: number, smallUnit: string): string {
  return small === 0 ? `${big} ${bigUnit}` : `${big} ${bigUnit} ${small} ${smallUnit}`;
}

function trimZero(text: string): string {
  return text.endsWith(".0") ? text.slice(0, -2) : text;
}
