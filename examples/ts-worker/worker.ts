/**
 * An example sagad worker in TypeScript: it serves two actions of a checkout saga,
 * "charge-card" and its compensation "refund-card". Run it beside a sagad:
 *
 *   SAGAD_URL=http://127.0.0.1:8080 SAGAD_TOKEN=sagad_… node --import tsx examples/ts-worker/worker.ts
 *
 * From an installed package, import from "sagad/worker" instead of the source path.
 */
import { ActionError, createWorker } from "../../src/sdk/index.js";

const charges = new Map<string, { amount: number; refunded: boolean }>();

const worker = createWorker({
  url: process.env.SAGAD_URL ?? "http://127.0.0.1:8080",
  token: process.env.SAGAD_TOKEN,
  slots: 20,
  logger: console,
  actions: {
    // The step's config, templates rendered, is ctx.config. What the handler returns is the
    // step's output (a JSON object), which later steps and the compensation can read.
    "charge-card": async (ctx) => {
      const amount = Number(ctx.config.amount);
      if (!Number.isFinite(amount) || amount <= 0) {
        throw new ActionError(`amount must be a positive number, got ${JSON.stringify(ctx.config.amount)}`, { kind: "BAD_AMOUNT", retryable: false });
      }
      if (amount > 1000) throw new ActionError("card declined", { kind: "CARD_DECLINED", retryable: false });
      // The idempotency key is the same on every attempt of this step: a retried charge is the same charge.
      const chargeId = `ch_${ctx.idempotencyKey.replace(/[^a-z0-9]/gi, "").slice(-12)}`;
      if (!charges.has(chargeId)) charges.set(chargeId, { amount, refunded: false });
      ctx.heartbeat({ charged: amount }); // progress: handed to the next attempt as ctx.lastProgress
      return { chargeId, amount };
    },
    "refund-card": async (ctx) => {
      const charge = charges.get(String(ctx.config.chargeId));
      if (charge) charge.refunded = true;
      return { refunded: ctx.config.chargeId };
    },
  },
});

await worker.start();
worker.installSignalHandlers(); // SIGTERM/SIGINT: drain (finish running tasks), then exit
console.log(`worker ${worker.instanceId} serving charge-card and refund-card`);
