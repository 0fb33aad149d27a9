import type { Clock } from "../../src/domain/clock.js";

interface PendingTimer {
  id: number;
  due: number;
  fn: () => void;
}

/**
 * A Clock that only moves when a test says so, for backoffs and leases measured in hours.
 *
 * `now()` starts at `start` (default: the real time, so stored timestamps look sane) and changes
 * only through `advance`. A timer fires once the clock has reached its due time: `advance` fires
 * every due timer in due order (setting `now` to each one's due time first, as sinon does), and a
 * timer that is already due when set (ms <= 0) fires on the next macrotask, as setTimeout(fn, 0)
 * would. Nothing ever fires from real time passing.
 */
export class FakeClock implements Clock {
  private current: number;
  private readonly timers: PendingTimer[] = [];
  private nextId = 1;

  constructor(start = Date.now()) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimer(ms: number, fn: () => void): () => void {
    const timer: PendingTimer = { id: this.nextId++, due: this.current + Math.max(0, ms), fn };
    this.timers.push(timer);
    if (timer.due <= this.current) setImmediate(() => this.fireDue());
    return () => this.remove(timer.id);
  }

  /** Moves time forward by `ms` and fires every timer that came due, in due order. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new Error(`FakeClock.advance: ms must be >= 0, got ${ms}`);
    const target = this.current + ms;
    for (;;) {
      const next = this.earliest();
      if (!next || next.due > target) break;
      this.remove(next.id);
      this.current = Math.max(this.current, next.due);
      next.fn();
    }
    this.current = target;
  }

  /** Timers not yet fired, with their due times (for assertions and debugging). */
  pending(): number[] {
    return this.timers.map((t) => t.due).sort((a, b) => a - b);
  }

  private fireDue(): void {
    for (;;) {
      const next = this.earliest();
      if (!next || next.due > this.current) return;
      this.remove(next.id);
      next.fn();
    }
  }

  private earliest(): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const t of this.timers) if (!best || t.due < best.due || (t.due === best.due && t.id < best.id)) best = t;
    return best;
  }

  private remove(id: number): void {
    const i = this.timers.findIndex((t) => t.id === id);
    if (i >= 0) this.timers.splice(i, 1);
  }
}
