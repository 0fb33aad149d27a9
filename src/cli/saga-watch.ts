import { toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { createLogUpdate } from "log-update";
import { SagaEventSchema, watchedEvents, type Saga, type SagaEvent } from "../client/index.js";
import type { CliContext } from "./context.js";
import { exitCodeForRest, EXIT } from "./exit-codes.js";
import { colorStatus, eventLine, formatDuration, sagaStatusName } from "./format.js";
import { isMoving, isResting, stepTable, summaryLine } from "./saga-view.js";

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const FRAME_MS = 100;
/** At most this often a live view refetches the saga after events arrive. */
const REFRESH_MS = 200;
const RESUME_BACKOFF_MS = [100, 250, 500, 1000, 2000, 5000];

/** Codes after which the same stream, resumed, can go on: the server or the network went away. */
const RESUMABLE = new Set([Code.Unavailable, Code.Internal, Code.Unknown, Code.DeadlineExceeded, Code.Aborted, Code.ResourceExhausted]);

/**
 * Follows a saga until it rests and returns the exit code of its resting state. On a terminal
 * with table output it redraws a live step table; otherwise it prints one line (or one JSON
 * object) per event, history first. A dropped stream resumes after the last sequence it saw, so
 * no event is shown twice or missed.
 */
export async function watchSaga(ctx: CliContext, id: string): Promise<number> {
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once("SIGINT", onSigint);
  try {
    const live = ctx.interactive && ctx.output === "table";
    const started = Date.now();
    let saga = (await ctx.sagas().getSaga({ id })).saga!;
    const view = live ? new LiveView(ctx, started) : undefined;
    let refreshing: Promise<void> | undefined;
    let lastRefresh = 0;
    const refresh = () => {
      if (refreshing !== undefined || Date.now() - lastRefresh < REFRESH_MS) return;
      refreshing = ctx.sagas().getSaga({ id }).then(
        (r) => { saga = r.saga!; lastRefresh = Date.now(); view?.show(saga); },
        () => undefined,
      ).finally(() => { refreshing = undefined; });
    };
    view?.start(saga);
    let after = live ? saga.sequence : 0n;
    let failures = 0;
    let rested = isResting(saga.status) && live;
    while (!rested && !abort.signal.aborted) {
      try {
        const stream = ctx.sagas().watchSaga({ id, afterSequence: after, batchEvents: true }, { signal: abort.signal });
        for await (const message of stream) {
          for (const event of watchedEvents(message)) {
            if (event.sequence <= after) continue;
            after = event.sequence;
            failures = 0;
            if (view === undefined) printEvent(ctx, event);
          }
          if (view !== undefined) refresh();
        }
        // The server ends a stream when the saga rests; make sure it did and was not just stopped.
        saga = (await ctx.sagas().getSaga({ id })).saga!;
        rested = isResting(saga.status) && saga.sequence <= after;
      } catch (err) {
        if (abort.signal.aborted) break;
        const code = ConnectError.from(err).code;
        if (!RESUMABLE.has(code)) throw err;
        const wait = RESUME_BACKOFF_MS[Math.min(failures++, RESUME_BACKOFF_MS.length - 1)]!;
        if (view !== undefined) view.note(`connection lost (${ConnectError.from(err).rawMessage}); resuming after event #${after}`);
        else ctx.err(`sagad: watch interrupted (${ConnectError.from(err).rawMessage}); resuming after event #${after}`);
        await sleep(wait, abort.signal);
      }
    }
    await refreshing;
    if (abort.signal.aborted) {
      view?.stop(saga);
      ctx.err("sagad: interrupted; the saga goes on (sagad saga watch " + id + ")");
      return EXIT.INTERRUPTED;
    }
    saga = (await ctx.sagas().getSaga({ id })).saga!;
    if (view !== undefined) {
      view.stop(saga);
      ctx.out(summaryLine(ctx, saga, Date.now() - started));
    } else if (ctx.output === "table") {
      ctx.err(summaryLine(ctx, saga, Date.now() - started));
    }
    return exitCodeForRest(saga.status);
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
}

function printEvent(ctx: CliContext, event: SagaEvent): void {
  if (ctx.output === "table") ctx.out(eventLine(ctx, event));
  else ctx.out(JSON.stringify(toJson(SagaEventSchema, event)));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

/** The live table: redrawn in place every frame, so spinners turn and durations count up. */
class LiveView {
  private saga?: Saga;
  private frame = 0;
  private timer?: NodeJS.Timeout;
  private notice = "";
  private readonly update;

  constructor(private readonly ctx: CliContext, private readonly started: number) {
    this.update = createLogUpdate(ctx.io.stdout, { showCursor: false });
  }

  start(saga: Saga): void {
    this.saga = saga;
    this.draw(true);
    this.timer = setInterval(() => this.draw(true), FRAME_MS);
  }

  show(saga: Saga): void {
    this.saga = saga;
    this.notice = "";
  }

  note(text: string): void {
    this.notice = text;
  }

  stop(saga: Saga): void {
    clearInterval(this.timer);
    this.saga = saga;
    this.notice = "";
    this.draw(false);
    this.update.done();
  }

  private draw(spinning: boolean): void {
    const saga = this.saga!;
    const now = Date.now();
    const spin = SPINNER[this.frame++ % SPINNER.length]!;
    const header = `saga ${saga.id} ${saga.name}  ${colorStatus(this.ctx, sagaStatusName(saga.status))}  ${formatDuration(now - this.started)}`;
    const table = stepTable(this.ctx, saga, now, (step) => (spinning && isMoving(step) ? this.ctx.colors.cyan(spin) : " "));
    this.update([header, "", table, ...(this.notice ? ["", this.ctx.colors.yellow(this.notice)] : [])].join("\n"));
  }
}
