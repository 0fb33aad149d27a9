/**
 * A worker process of the `workers` and `dispatch` scenarios: the TS SDK with its defaults
 * (Subscribe, the Connect protocol over HTTP/2), serving one action that returns `{}` at once. It
 * notes, on this machine's clock (Date.now(), as sagad stamps events), when each task's message
 * came off the Subscribe stream and when its handler started (after the SDK's AckTasks).
 */
import type { Interceptor } from "@connectrpc/connect";
import { createSagadTransport, type SubscribeResponse } from "../../src/client/index.js";
import { createWorker } from "../../src/sdk/index.js";
import { childConfig, serveBench } from "./child-ipc.js";
import type { TaskSample, WorkerProcessConfig } from "./worker-samples.js";

const config = childConfig<WorkerProcessConfig>();
const arrivals = new Map<string, { arrivedAt: number; offeredAt: number }>();
let samples: TaskSample[] = [];
const key = (sagaId: string, step: string, attempt: number, delivery: number) => `${sagaId}|${step}|${attempt}|${delivery}`;

async function* tap(messages: AsyncIterable<SubscribeResponse>): AsyncGenerator<SubscribeResponse> {
  for await (const m of messages) {
    if (m.message.case === "task") {
      const arrivedAt = Date.now();
      const t = m.message.value;
      const deadline = Number(t.ackDeadline!.seconds) * 1000 + Math.round(t.ackDeadline!.nanos / 1e6);
      arrivals.set(key(t.sagaId, t.step, t.attempt, t.delivery), { arrivedAt, offeredAt: deadline - config.ackTimeoutMs });
    }
    yield m;
  }
}

/** Notes the arrival of every Task on Subscribe before the SDK sees it (one async hop per message). */
const arrival: Interceptor = (next) => async (req) => {
  const res = await next(req);
  if (!res.stream || req.method.name !== "Subscribe") return res;
  return { ...res, message: tap(res.message as AsyncIterable<SubscribeResponse>) } as typeof res;
};

const worker = createWorker({
  transport: createSagadTransport(config.url, { token: config.token, protocol: "connect", interceptors: [arrival] }),
  instanceId: config.instanceId,
  slots: config.slots,
  actions: {
    [config.action]: (ctx) => {
      const handlerAt = Date.now();
      const k = key(ctx.sagaId, ctx.step, ctx.attempt, ctx.delivery);
      const a = arrivals.get(k);
      arrivals.delete(k);
      samples.push({ sagaId: ctx.sagaId, sagaName: ctx.sagaName, step: ctx.step, attempt: ctx.attempt, delivery: ctx.delivery, arrivedAt: a?.arrivedAt ?? null, offeredAt: a?.offeredAt ?? null, handlerAt });
      return {};
    },
  },
});

const ipc = serveBench((m) => {
  if (m.type === "take") {
    const taken = samples;
    samples = [];
    return taken;
  }
  return null;
});

process.once("SIGTERM", () => {
  void worker.stop().finally(() => process.exit(0));
});
await worker.start();
ipc.ready();
