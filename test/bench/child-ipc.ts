/** The child's side of `bench-child.ts`; child scripts import this and nothing else of the bench. */

/** In a child: its config, and a way to answer the bench's requests. */
export function childConfig<T>(): T {
  const raw = process.env.BENCH_CHILD_CONFIG;
  if (!raw) throw new Error("BENCH_CHILD_CONFIG is not set: this script is started by the bench");
  return JSON.parse(raw) as T;
}

/** In a child: answers each request with `handle`'s result; `ready()` tells the bench it may ask. */
export function serveBench(handle: (message: Record<string, unknown>) => Promise<unknown> | unknown): { ready(): void } {
  process.on("message", (m: Record<string, unknown> & { id: number }) => {
    void Promise.resolve(handle(m)).then((reply) => process.send!({ id: m.id, reply }));
  });
  return { ready: () => process.send!({ type: "ready" }) };
}
