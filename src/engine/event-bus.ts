import type { SagaEvent } from "../domain/types.js";

/** Recent events of sagas this replica committed to, so watchers need not read them back. */
interface Recent {
  /** Contiguous, ascending; the last one is at `head` unless `head` moved on without events. */
  events: SagaEvent[];
  /** The highest sequence published for the saga. */
  head: number;
  touchedAt: number;
}

/** Events kept per saga: enough for a watcher that (re)connects a little behind. */
const RECENT_EVENTS_PER_SAGA = 64;
/** Sagas whose recent events are kept; the least recently published go first. */
const RECENT_SAGAS = 10_000;
/** Recent events older than this are dropped: a watcher that late reads Postgres anyway. */
const RECENT_TTL_MS = 30_000;

/**
 * In-process delivery for watchers. Local commits publish their events, so a watcher on the
 * replica driving a saga is served from memory; anything it cannot prove contiguous (a remote
 * commit announced only by NOTIFY, a watcher further behind than the cache, a lost wake-up) it
 * reads from saga_events, so the stream never has gaps or repeats whatever arrives here.
 */
export class EventBus {
  private readonly listeners = new Map<string, Set<(sequence: number) => void>>();
  private readonly recent = new Map<string, Recent>();
  /** Publications so far, per saga someone watches: reads started since the latest one may be shared. */
  private readonly generations = new Map<string, number>();
  /** Sagas whose watchers are to be woken on the next turn, with the sequence to announce. */
  private readonly pendingWakes = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Returns the unsubscribe function; callers must call it (watch handlers do in `finally`). */
  subscribe(sagaId: string, listener: (sequence: number) => void): () => void {
    let set = this.listeners.get(sagaId);
    if (!set) {
      set = new Set();
      this.listeners.set(sagaId, set);
    }
    set.add(listener);
    return () => {
      const current = this.listeners.get(sagaId);
      if (!current) return;
      current.delete(listener);
      if (current.size === 0) {
        this.listeners.delete(sagaId);
        this.generations.delete(sagaId);
      }
    };
  }

  /**
   * Announces that the saga's events up to `sequence` are committed: "saga X has events up to N".
   * `events` are the ones this process just committed (ascending, ending at `sequence`); remote
   * commits (LISTEN/NOTIFY) and deletions have none.
   */
  publish(sagaId: string, sequence: number, events: readonly SagaEvent[] | null = null): void {
    this.remember(sagaId, sequence, events);
    if (!this.listeners.has(sagaId)) return;
    this.generations.set(sagaId, (this.generations.get(sagaId) ?? 0) + 1);
    this.pendingWakes.set(sagaId, Math.max(sequence, this.pendingWakes.get(sagaId) ?? 0));
    if (this.pendingWakes.size === 1) setImmediate(() => this.wakePending());
  }

  /**
   * Watchers are woken on the next turn of the event loop, not during the commit's own callback:
   * the driver first sends its next statement, and the watchers' Connect-ES work (tens of
   * microseconds per message) overlaps that round trip instead of delaying it. One saga
   * committing twice in a turn wakes its watchers once.
   */
  private wakePending(): void {
    const wakes = [...this.pendingWakes];
    this.pendingWakes.clear();
    for (const [sagaId, sequence] of wakes) {
      const set = this.listeners.get(sagaId);
      if (set) for (const listener of [...set]) listener(sequence);
    }
  }

  /**
   * The events after `afterSequence` up to the latest one published, if this process holds all of
   * them; null when it cannot vouch for that (then read Postgres). An empty array means the
   * saga's latest event, committed here, is at `afterSequence`.
   */
  eventsAfter(sagaId: string, afterSequence: number): SagaEvent[] | null {
    const entry = this.recent.get(sagaId);
    if (!entry || afterSequence > entry.head || this.now() - entry.touchedAt > RECENT_TTL_MS) return null;
    // Without this process's own events the head may be a remote commit or a deletion: ask Postgres.
    const last = entry.events.at(-1);
    if (!last || last.sequence !== entry.head) return null;
    const first = entry.events[0]!.sequence;
    if (afterSequence + 1 < first) return null;
    return entry.events.slice(afterSequence + 1 - first);
  }

  /**
   * How many publications watchers of the saga have had. A read of saga_events started at the
   * current generation sees every commit announced so far, so watchers woken by the same
   * announcement can share it (see SagaStore.readEventsShared).
   */
  generation(sagaId: string): number {
    return this.generations.get(sagaId) ?? 0;
  }

  /** The saga's latest event if this process committed it (and nothing is known beyond it). */
  latestEvent(sagaId: string): SagaEvent | null {
    const entry = this.recent.get(sagaId);
    const last = entry?.events.at(-1);
    return entry && last && last.sequence === entry.head && this.now() - entry.touchedAt <= RECENT_TTL_MS ? last : null;
  }

  /** After the LISTEN connection reconnects notifications may have been missed: wake everyone. */
  wakeAll(): void {
    this.recent.clear();
    for (const id of this.generations.keys()) this.generations.set(id, this.generations.get(id)! + 1);
    for (const set of this.listeners.values()) for (const listener of [...set]) listener(Number.MAX_SAFE_INTEGER);
  }

  /** Open subscriptions; tests use it to prove aborted watches leave nothing behind. */
  listenerCount(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }

  private remember(sagaId: string, sequence: number, events: readonly SagaEvent[] | null): void {
    const existing = this.recent.get(sagaId);
    const known = events !== null && events.length > 0;
    // A NOTIFY for what we already know (often the echo of our own commit) changes nothing.
    if (!known && existing && sequence <= existing.head) return;
    const now = this.now();
    const entry: Recent = existing ?? { events: [], head: 0, touchedAt: now };
    if (!known) {
      // A remote commit, a deletion, or our own commit's NOTIFY beating its reply: the events up to
      // the new head are not here (yet), so eventsAfter stops vouching until they are.
    } else if (entry.events.at(-1)?.sequence === events[0]!.sequence - 1) {
      entry.events.push(...events);
      if (entry.events.length > RECENT_EVENTS_PER_SAGA) entry.events.splice(0, entry.events.length - RECENT_EVENTS_PER_SAGA);
    } else {
      entry.events = events.slice(-RECENT_EVENTS_PER_SAGA);
    }
    entry.head = Math.max(entry.head, sequence);
    entry.touchedAt = now;
    // Map order is recency order: re-insert, then drop the stalest beyond the bounds.
    this.recent.delete(sagaId);
    this.recent.set(sagaId, entry);
    for (const [id, stale] of this.recent) {
      if (this.recent.size <= RECENT_SAGAS && now - stale.touchedAt <= RECENT_TTL_MS) break;
      this.recent.delete(id);
    }
  }
}
