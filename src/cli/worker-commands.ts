import type { Command } from "commander";
import { WorkerSchema, type Worker, type WorkerAction } from "../client/index.js";
import type { CliContext } from "./context.js";
import { formatAge } from "./format.js";
import { printList, renderTable } from "./output.js";
import type { Run } from "./run.js";

/** `sagad worker …`: the remote workers connected to sagad, as an operator checks on them. */
export function addWorkerCommands(program: Command, run: Run): void {
  const worker = program.command("worker").description("list the workers connected to sagad");

  worker
    .command("list")
    .description("every live worker session, on every replica, oldest first")
    .option("--action <name>", "only workers serving this action")
    .action(run(async (ctx, opts: { action?: string }) => {
      const { workers } = await ctx.workers().listWorkers({ action: opts.action ?? "" });
      // Like saga list and def list: a JSON array for -o json, one object a line for jsonl.
      if (workers.length > 0 || ctx.output !== "table") printList(ctx, WorkerSchema, workers, () => workerTable(ctx, workers, Date.now()));
      // On stderr, so stdout stays empty (table) or valid JSON for scripts; nobody connected is
      // an answer, not an error.
      if (workers.length === 0) ctx.err(`sagad: no workers connected${opts.action === undefined ? "" : ` serving "${opts.action}"`}`);
    }));
}

/**
 * `worker list` rows. ACTIONS reads `charge-card(max 2)` for an action capped below the slots
 * (max_concurrency > 0), SLOTS `used/total` (tasks offered or running / slots), and LAST
 * HEARTBEAT an age against this machine's clock.
 */
export function workerTable(ctx: CliContext, workers: readonly Worker[], now: number): string {
  return renderTable(["INSTANCE", "ACTIONS", "SLOTS", "REPLICA", "LAST HEARTBEAT", "STATE", "LABELS"], workers.map((w) => [
    w.instanceId,
    w.actions.map(actionText).join(","),
    `${w.inFlight}/${w.slots}`,
    w.replicaId === "" ? "-" : w.replicaId,
    formatAge(w.lastHeartbeatTime, now),
    w.draining ? ctx.colors.yellow("draining") : ctx.colors.green("ready"),
    Object.entries(w.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join(",") || "-",
  ]));
}

function actionText(action: WorkerAction): string {
  return action.maxConcurrency > 0 ? `${action.name}(max ${action.maxConcurrency})` : action.name;
}
