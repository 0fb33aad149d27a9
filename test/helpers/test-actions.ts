import { ActionError, type Action, type ActionContext } from "../../src/actions/action.js";
import type { JsonObject } from "../../src/domain/types.js";

/** One recorded action call, in the order calls started. */
export interface RecordedCall {
  action: string;
  sagaId: string;
  step: string;
  phase: ActionContext["phase"];
  attempt: number;
  idempotencyKey: string;
  config: JsonObject;
  startedAt: number;
  endedAt: number | null;
}

/**
 * Programmable actions for engine and API tests, with a shared call log:
 * - `record`: succeeds; output `{ step, attempt }` merged with its config;
 * - `flaky`: fails (retryable, kind FLAKY) until attempt > config.failTimes, then succeeds;
 * - `fail`: always fails; config.kind (default BOOM) and config.retryable (default true);
 * - `hang`: waits until its signal aborts (then rejects), for timeouts and cancel;
 * - `gate`: waits until `release(step)` is called (or its signal aborts), to hold a step mid-flight;
 * - `slow`: waits config.ms then succeeds, for overlap measurements.
 */
export function createTestActions() {
  const calls: RecordedCall[] = [];
  const gates = new Map<string, () => void>();
  const gateWaiters = new Map<string, Promise<void>>();
  const gateOpen = new Set<string>();

  const recorded = (name: string, run: (ctx: ActionContext, call: RecordedCall) => Promise<JsonObject>): Action => ({
    name,
    async run(ctx) {
      const call: RecordedCall = {
        action: name,
        sagaId: ctx.sagaId,
        step: ctx.step,
        phase: ctx.phase,
        attempt: ctx.attempt,
        idempotencyKey: ctx.idempotencyKey,
        config: ctx.config,
        startedAt: performance.now(),
        endedAt: null,
      };
      calls.push(call);
      try {
        return await run(ctx, call);
      } finally {
        call.endedAt = performance.now();
      }
    },
  });

  const untilAborted = (signal: AbortSignal) =>
    new Promise<never>((_, reject) => {
      const onAbort = () => reject(new ActionError("aborted", { kind: "ABORTED", retryable: true }));
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });

  const actions: Action[] = [
    recorded("record", async (ctx) => ({ ...ctx.config, step: ctx.step, attempt: ctx.attempt })),
    recorded("flaky", async (ctx) => {
      const failTimes = Number(ctx.config.failTimes ?? 1);
      if (ctx.attempt <= failTimes) throw new ActionError(`flaky failure ${ctx.attempt}`, { kind: "FLAKY", retryable: true });
      return { attempt: ctx.attempt };
    }),
    recorded("fail", async (ctx) => {
      const kind = typeof ctx.config.kind === "string" ? ctx.config.kind : "BOOM";
      throw new ActionError(`failed on purpose (${kind})`, { kind, retryable: ctx.config.retryable !== false });
    }),
    recorded("hang", async (ctx) => untilAborted(ctx.signal)),
    recorded("gate", async (ctx) => {
      const key = `${ctx.sagaId}/${ctx.step}`;
      if (!gateOpen.has(key)) {
        let open!: () => void;
        const waiter = new Promise<void>((resolve) => (open = resolve));
        gates.set(key, open);
        gateWaiters.set(key, waiter);
        await Promise.race([waiter, untilAborted(ctx.signal)]);
      }
      return { gated: true };
    }),
    recorded("slow", async (ctx) => {
      const ms = Number(ctx.config.ms ?? 50);
      await Promise.race([new Promise((resolve) => setTimeout(resolve, ms)), untilAborted(ctx.signal)]);
      return { slept: ms };
    }),
  ];

  return {
    actions,
    calls,
    /** Lets a `gate` step of saga `sagaId` finish (now, or as soon as it starts). */
    release(sagaId: string, step: string) {
      const key = `${sagaId}/${step}`;
      gateOpen.add(key);
      gates.get(key)?.();
    },
    /** Calls of one step (optionally one phase), in start order. */
    callsOf(step: string, phase: ActionContext["phase"] = "action") {
      return calls.filter((c) => c.step === step && c.phase === phase);
    },
  };
}
