/**
 * In-process wake-ups for watchers: "saga X has events up to sequence N". It carries no events
 * itself (watchers read them from saga_events), so a lost or duplicated wake-up can only delay a
 * watcher, never make it miss or repeat an event. Fed by local commits (fast path) and by the
 * Postgres LISTEN connection (changes committed by other replicas).
 */
export class EventBus {
  private readonly listeners = new Map<string, Set<(sequence: number) => void>>();

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
      if (current.size === 0) this.listeners.delete(sagaId);
    };
  }

  publish(sagaId: string, sequence: number): void {
    const set = this.listeners.get(sagaId);
    if (!set) return;
    for (const listener of [...set]) listener(sequence);
  }

  /** After the LISTEN connection reconnects notifications may have been missed: wake everyone. */
  wakeAll(): void {
    for (const set of this.listeners.values()) for (const listener of [...set]) listener(Number.MAX_SAFE_INTEGER);
  }

  /** Open subscriptions; tests use it to prove aborted watches leave nothing behind. */
  listenerCount(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }
}
