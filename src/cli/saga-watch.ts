import { toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { createLogUpdate } from "log-update";
import { SagaEventSchema, watchedEvents, type Saga, type SagaEvent } from "../client/index.js";
import type { CliContext } from "./context.js";
import { exitCodeForRest, EXIT } from "./exit-codes.js";
import { colorStatus, eventLine, formatDuration, sagaStatusName } from "./format.js";
import { isMoving, isResting, sagaElapsedMs, stepTable, summaryLine } from "./saga-view.js";

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const FRAME_MS = 100;
/** At most this often a live view refetches the saga after events arrive. */
const REFRESH_MS = 200;
const RESUME_BACKOFF_MS = [100, 250, 500, 1000, 2000, 5000];

/**
 * Codes after which the same stream, resumed, can go on: the server or the network went away.
 * CANCELED is among them because connect-node reports a stream that a dying HTTP/2 session took
 * down (RST_STREAM CANCEL) as CANCELED; a user's own Ctrl-C is told apart by the abort signal.
 */
const RESUMABLE = new Set([
  Code.Unavailable,
  Code.Internal,
  Code.Unknown,
  Code.DeadlineExceeded,
  Code.Aborted,
  Code.ResourceExhausted,
  Code.Canceled,
]);

/**
 * Follows a saga until it rests and returns the exit code of its resting state. On a terminal
 * with table output it redraws a live step table; otherwise it prints one line (or one JSON
 * object) per event, history first. A dropped stream resumes after the last sequence it saw, so
 * no event is shown twice or missed. Before the first GetSaga has answered, only a connection
 * that broke mid-call is tried again (a few times): a server that cannot be reached at all is an
 * error (exit 8), as for every other command. Once following, connection trouble is waited out.
 */
export async function watchSaga(ctx: CliContext, id: string): Promise<number> {
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once("SIGINT", onSigint);
  let view: LiveView | undefined;
  try {
    const getSaga = async () => (await ctx.sagas().getSaga({ id })).saga!;
    let saga = await firstGet(getSaga, abort.signal);
    if (ctx.interactive && ctx.output === "table") {
      view = new LiveView(ctx, getSaga);
      view.start(saga);
    }
    let after = view !== undefined ? saga.sequence : 0n;
    let failures = 0;
    let rested = view !== undefined && isResting(saga.status);
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
          view?.changed();
        }
        // The server ends a stream when the saga rests; make sure it did and was not just stopped.
        // This saga is also the one the summary reports: the watch ends on no other request.
        saga = await getSaga();
        rested = isResting(saga.status) && saga.sequence <= after;
      } catch (err) {
        if (abort.signal.aborted) break;
        const error = ConnectError.from(err);
        if (!RESUMABLE.has(error.code)) throw err;
        const wait = RESUME_BACKOFF_MS[Math.min(failures++, RESUME_BACKOFF_MS.length - 1)]!;
        if (view !== undefined) view.note(`connection lost (${error.rawMessage}); resuming after event #${after}`);
        else ctx.err(`sagad: watch interrupted (${error.rawMessage}); resuming after event #${after}`);
        await sleep(wait, abort.signal);
      }
    }
    if (abort.signal.aborted) {
      view?.stop();
      ctx.err("sagad: interrupted; the saga goes on (sagad saga watch " + id + ")");
      return EXIT.INTERRUPTED;
    }
    if (view !== undefined) {
      view.stop(saga);
      ctx.out(summaryLine(ctx, saga));
    } else if (ctx.output === "table") {
      ctx.err(summaryLine(ctx, saga));
    }
    return exitCodeForRest(saga.status);
  } finally {
    // Also on an error: the frame timer must not keep the process alive, the cursor comes back.
    view?.stop();
    process.removeListener("SIGINT", onSigint);
  }
}

/** Codes of a call the connection broke under (ECONNRESET, a session torn down): not the server's answer. */
const BROKEN = new Set([Code.Aborted, Code.Canceled]);

async function firstGet(getSaga: () => Promise<Saga>, signal: AbortSignal): Promise<Saga> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await getSaga();
    } catch (err) {
      if (signal.aborted || !BROKEN.has(ConnectError.from(err).code) || attempt >= RESUME_BACKOFF_MS.length) throw err;
      await sleep(RESUME_BACKOFF_MS[attempt]!, signal);
    }
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

/**
 * The live table: redrawn in place every frame, so spinners turn and durations count up. It
 * refetches the saga when events arrive, at most every REFRESH_MS, and once more after the last
 * of a burst, so the table never stays on a state older than the newest event.
 */
class LiveView {
  private saga?: Saga;
  private frame = 0;
  private timer?: NodeJS.Timeout;
  private notice = "";
  private readonly update;
  private fetching = false;
  private wanted = false;
  private lastFetch = 0;
  private trailing?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly ctx: CliContext,
    private readonly fetch: () => Promise<Saga>,
  ) {
    this.update = createLogUpdate(ctx.io.stdout, { showCursor: false });
  }

  start(saga: Saga): void {
    this.saga = saga;
    this.draw(true);
    this.timer = setInterval(() => this.draw(true), FRAME_MS);
  }

  /** Events arrived: show the saga as it is now. */
  changed(): void {
    this.wanted = true;
    if (this.stopped || this.fetching || this.trailing !== undefined) return;
    const wait = this.lastFetch + REFRESH_MS - Date.now();
    if (wait > 0) {
      this.trailing = setTimeout(() => {
        this.trailing = undefined;
        this.changed();
      }, wait);
      return;
    }
    this.wanted = false;
    this.fetching = true;
    this.lastFetch = Date.now();
    this.fetch().then(
      (saga) => {
        if (this.stopped) return;
        this.saga = saga;
        this.notice = "";
      },
      // The watch loop reports connection trouble; try again once the throttle allows.
      () => (this.wanted = true),
    ).finally(() => {
      this.fetching = false;
      if (this.wanted) this.changed();
    });
  }

  note(text: string): void {
    this.notice = text;
  }

  /** The last frame (of `saga` when given), without spinners; idempotent. */
  stop(saga?: Saga): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.trailing);
    if (saga !== undefined) this.saga = saga;
    this.notice = "";
    this.draw(false);
    this.update.done();
  }

  private draw(spinning: boolean): void {
    const saga = this.saga!;
    const now = Date.now();
    const spin = SPINNER[this.frame++ % SPINNER.length]!;
    const header = `saga ${saga.id} ${saga.name}  ${colorStatus(this.ctx, sagaStatusName(saga.status))}  ${formatDuration(sagaElapsedMs(saga, now))}`;
    const table = stepTable(this.ctx, saga, now, (step) => (spinning && isMoving(step) ? this.ctx.colors.cyan(spin) : " "));
    this.update([header, "", table, ...(this.notice ? ["", this.ctx.colors.yellow(this.notice)] : [])].join("\n"));
  }
}
