/**
 * A chaos worker: a real process serving the chaos actions through the SDK (sagad/worker), that
 * writes down everything it did to a journal (JSON lines, one write(2) per line, so a SIGKILL
 * loses nothing already written) for the harness to hold the sagas' histories to:
 * - `start`: a handler began (saga, step, phase, attempt, delivery, idempotency key);
 * - `end`: the handler finished, with what it returned or threw;
 * - `sent` / `answered`: a result call (CompleteTask, FailTask, ReportCancelled) went out, and
 *   what the server answered (ok with already_recorded, or the error code).
 * Run as `node --import tsx test/chaos/worker-process.ts`, configured by CHAOS_WORKER_* variables;
 * prints `ready <instance id>` once registered.
 */
import { appendFileSync } from "node:fs";
import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { ActionError, createWorker, type TaskContext } from "../../src/sdk/index.js";
import { WORKER_ACTIONS, type StepBehaviour, type JournalLine, type ReportMethod } from "./worker-journal.js";

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};
const url = env("CHAOS_WORKER_URL");
const instanceId = env("CHAOS_WORKER_INSTANCE");
const journalPath = env("CHAOS_WORKER_JOURNAL");
const slots = Number(process.env.CHAOS_WORKER_SLOTS ?? "8");
const idleMs = process.env.CHAOS_WORKER_IDLE_MS ? Number(process.env.CHAOS_WORKER_IDLE_MS) : undefined;

const journal = (entry: JournalLine): void => {
  appendFileSync(journalPath, `${JSON.stringify({ at: Date.now(), pid: process.pid, instance: instanceId, ...entry })}\n`);
};

const REPORTS: Record<string, ReportMethod> = { CompleteTask: "complete", FailTask: "fail", ReportCancelled: "cancelled" };

/** Journals every result call and its answer; the token names the task (sgt1.<payload>.<mac>). */
const recordReports: Interceptor = (next) => async (req) => {
  const method = REPORTS[req.method.name];
  if (method === undefined || req.stream) return next(req);
  const token = (req.message as unknown as { token: string }).token;
  const task = decodeToken(token);
  journal({ ev: "sent", ...task, method });
  try {
    const res = await next(req);
    journal({ ev: "answered", ...task, method, code: "OK", alreadyRecorded: (res.message as { alreadyRecorded?: boolean }).alreadyRecorded ?? false });
    return res;
  } catch (err) {
    const e = ConnectError.from(err);
    journal({ ev: "answered", ...task, method, code: e.code, message: e.rawMessage.slice(0, 200) });
    throw err;
  }
};

function decodeToken(token: string): { saga: string; stepIdx: number; phase: "action" | "compensate"; attempt: number; delivery: number } {
  const [saga, stepIdx, phase, attempt, delivery] = Buffer.from(token.split(".")[1] ?? "", "base64url").toString().split(".");
  return { saga: saga ?? "", stepIdx: Number(stepIdx), phase: phase === "c" ? "compensate" : "action", attempt: Number(attempt), delivery: Number(delivery) };
}

/**
 * Every action: wait the configured time (stopping early when the task is cancelled), then act
 * as the step's behaviour says for this attempt. The output carries a nonce the harness finds
 * again in the step's recorded output.
 */
async function handle(ctx: TaskContext): Promise<unknown> {
  const behaviour = (ctx.config["behaviour"] as StepBehaviour | undefined) ?? "ok";
  const ms = Number(ctx.config["ms"] ?? 0);
  const where = { saga: ctx.sagaId, step: ctx.step, phase: ctx.phase, attempt: ctx.attempt, delivery: ctx.delivery };
  const nonce = `${instanceId}/${process.pid}/${ctx.step}/${ctx.phase}/${ctx.attempt}/${ctx.delivery}`;
  journal({ ev: "start", ...where, key: ctx.idempotencyKey, behaviour });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(ctx.signal.reason as Error);
      }, { once: true });
    });
    if (behaviour === "fail") throw new ActionError("planned failure", { kind: "PLANNED", retryable: false });
    if (behaviour === "flaky" && ctx.attempt <= 1) throw new ActionError("flaky first attempt", { kind: "FLAKY", retryable: true });
    journal({ ev: "end", ...where, outcome: "ok", nonce });
    return { nonce, step: ctx.step };
  } catch (err) {
    const outcome = err instanceof ActionError ? (err.retryable ? "retryable" : "failed") : "aborted";
    journal({ ev: "end", ...where, outcome, message: (err as Error).message.slice(0, 200) });
    throw err;
  }
}

const worker = createWorker({
  // The SDK's own transport (its protocol and connection pings), plus the journaling interceptor.
  url,
  token: env("CHAOS_WORKER_TOKEN"),
  interceptors: [recordReports],
  instanceId,
  slots,
  actions: Object.fromEntries(WORKER_ACTIONS.map((name) => [name, handle])),
  // The harness kills, not stops: SIGTERM only from its cleanup.
  handleSignals: true,
  stopGraceMs: 2_000,
  ...(idleMs === undefined ? {} : { streamIdleTimeoutMs: idleMs }),
  logger: {
    info: () => undefined,
    warn: (message, fields) => process.stderr.write(`${new Date().toISOString()} warn ${message} ${JSON.stringify(fields ?? {})}\n`),
    error: (message, fields) => process.stderr.write(`${new Date().toISOString()} error ${message} ${JSON.stringify(fields ?? {})}\n`),
  },
});
await worker.start();
journal({ ev: "registered" });
process.stdout.write(`ready ${instanceId}\n`);
