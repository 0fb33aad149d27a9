/**
 * Messages for one server stream: pushed by the dispatcher at any time, read by the stream's
 * handler in order. Ending it (or the reader's signal firing) ends the iteration.
 */
export class AsyncQueue<T> {
  private readonly items: T[] = [];
  private wake: (() => void) | null = null;
  private ended = false;

  push(item: T): void {
    if (this.ended) return;
    this.items.push(item);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  get isEnded(): boolean {
    return this.ended;
  }

  async *drain(signal: AbortSignal): AsyncGenerator<T> {
    const onAbort = () => this.end();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      for (;;) {
        while (this.items.length > 0) yield this.items.shift()!;
        if (this.ended) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = null;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.ended = true;
    }
  }
}
