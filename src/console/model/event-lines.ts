import { timestampMs } from "@bufbuild/protobuf/wkt";
import { EventType, SagaStatus, StepStatus, type SagaEvent, type Step } from "../../gen/saga/v1/saga_pb.js";
import { durationText } from "./duration-text.js";
import { sagaStatusLook, type Tone } from "./status.js";

/** One event of a saga's history, as a sentence an operator reads without knowing the API. */
export interface EventLine {
  readonly sequence: number;
  /** The EventType name without its prefix ("STEP_FAILED"), for `data-event-type`. */
  readonly type: string;
  readonly timeMs: number | undefined;
  /** A one-character glyph; the text always says the same in words. */
  readonly icon: string;
  readonly tone: Tone;
  /** The step concerned, or "" for the saga itself. */
  readonly step: string;
  /** e.g. "step charge: attempt 2/3 failed: POST … -> 503 (retry in 1.2 s)". */
  readonly text: string;
  /** The error kind of a failure ("HTTP_5XX"), shown apart so the eye can scan for it. */
  readonly errorKind?: string;
  /** The stand-in output of a skip, as compact JSON (cut short when long). */
  readonly detail?: string;
  /** Who caused it when a request did: "dev via SkipStep" (token name via operation). Unset for the engine. */
  readonly by?: string;
  /** The operator's reason, when one was given. */
  readonly reason?: string;
  /** Whether "Failures only" keeps it (see {@link isFailureEvent}). */
  readonly failure: boolean;
}

/** Attempts allowed per round, for the action and for its compensation, by step name. */
export type AttemptBudgets = ReadonlyMap<string, { readonly action: number; readonly compensation?: number }>;

/** The attempt budgets of a saga's steps (their effective retry policies, defaults filled in). */
export function attemptBudgets(steps: readonly Step[]): AttemptBudgets {
  return new Map(
    steps.map((s) => [
      s.name,
      {
        action: s.retryPolicy?.maxAttempts ?? 0,
        ...(s.compensate ? { compensation: s.compensate.retryPolicy?.maxAttempts ?? 0 } : {}),
      },
    ]),
  );
}

/** The EventType name without the EVENT_TYPE_ prefix, as `data-event-type` carries it. */
export function eventTypeName(type: EventType): string {
  return EventType[type] ?? "UNSPECIFIED";
}

/**
 * Whether an event tells of something going wrong: a failed attempt (retried or not), of the
 * action or of its compensation; the saga coming to rest FAILED or COMPENSATION_FAILED; and an
 * attempt the circuit breaker refused (the target has been failing, and the step waits because of
 * it). Cancellations are not failures: an operator asked for them, even when they carry the
 * aborted call's error.
 */
export function isFailureEvent(event: SagaEvent): boolean {
  switch (event.type) {
    case EventType.STEP_FAILED:
    case EventType.STEP_RETRY_SCHEDULED:
    case EventType.COMPENSATION_FAILED:
    case EventType.COMPENSATION_RETRY_SCHEDULED:
    case EventType.STEP_DEFERRED:
      return true;
    case EventType.SAGA_STATUS_CHANGED:
      return event.sagaStatus === SagaStatus.FAILED || event.sagaStatus === SagaStatus.COMPENSATION_FAILED;
    default:
      return false;
  }
}

/** Where a step's attempts count from: attempt numbers keep growing across RetrySaga, RetryStep and rollbacks. */
interface Round {
  compensation: boolean;
  /** The attempt number the current round started after. */
  start: number;
}

/**
 * Turns a history into lines, in the order given. Attempts read "n/m" within the current round
 * (m from `budgets`), with the overall number when a reset started a new round, so "attempt 1/3
 * (#4 overall)" is the first try after a RetrySaga. Events must be in sequence order and, for
 * the rounds to be right, start at the saga's first event.
 */
export function describeEvents(events: readonly SagaEvent[], budgets: AttemptBudgets = new Map()): EventLine[] {
  return [...new EventDescriber().describe(events, budgets)];
}

/**
 * {@link describeEvents} for a history that grows: given the same events again plus new ones
 * (the same objects first, as a live page appends them), it describes only the new ones. A busy
 * saga's thousands of events then cost nothing per update but what arrived.
 */
export class EventDescriber {
  private rounds = new Map<string, Round>();
  private sagaStatus: SagaStatus | undefined;
  private lines: EventLine[] = [];
  private seen: readonly SagaEvent[] = [];
  private budgets: AttemptBudgets | undefined;

  /** The lines of `events`; a new array whenever they changed, so it can key a memo. */
  describe(events: readonly SagaEvent[], budgets: AttemptBudgets): readonly EventLine[] {
    const n = this.seen.length;
    const grows = budgets === this.budgets && n <= events.length && (n === 0 || events[n - 1] === this.seen[n - 1]);
    if (!grows) {
      this.rounds = new Map();
      this.sagaStatus = undefined;
      this.lines = [];
      this.budgets = budgets;
    } else if (n === events.length) {
      return this.lines;
    }
    const lines = this.lines.slice();
    for (let i = lines.length; i < events.length; i++) {
      const event = events[i]!;
      const round = event.step === "" ? undefined : roundOf(this.rounds, event);
      const budget = budgets.get(event.step);
      const max = round?.compensation ? budget?.compensation : budget?.action;
      lines.push(describe(event, { attempts: (a) => attemptText(a, round?.start ?? 0, max), previousSagaStatus: this.sagaStatus }));
      this.sagaStatus = event.sagaStatus;
    }
    this.lines = lines;
    this.seen = events;
    return lines;
  }
}

/** The round an event belongs to, updated by the events that start one. */
function roundOf(rounds: Map<string, Round>, event: SagaEvent): Round {
  let round = rounds.get(event.step);
  if (!round) {
    round = { compensation: false, start: 0 };
    rounds.set(event.step, round);
  }
  if (event.type === EventType.COMPENSATION_STARTED && !round.compensation) {
    round.compensation = true;
    round.start = 0;
  } else if (event.type === EventType.STEP_RESET) {
    round.compensation = event.stepStatus === StepStatus.COMPENSATING;
    round.start = event.attempt;
  }
  return round;
}

function attemptText(n: number, roundStart: number, max: number | undefined): string {
  const within = n - roundStart;
  const outOf = max ? `${within}/${max}` : `${within}`;
  return roundStart > 0 ? `attempt ${outOf} (#${n} overall)` : `attempt ${outOf}`;
}

interface Context {
  attempts(n: number): string;
  previousSagaStatus: SagaStatus | undefined;
}

interface Said {
  icon: string;
  tone: Tone;
  text: string;
  detail?: string;
}

function describe(event: SagaEvent, ctx: Context): EventLine {
  const said = sentence(event, ctx);
  // Only a request carries a token; what the engine does on its own has none.
  const by = event.tokenName ? `${event.tokenName} via ${event.actor}` : "";
  return {
    sequence: Number(event.sequence),
    type: eventTypeName(event.type),
    timeMs: event.time ? timestampMs(event.time) : undefined,
    icon: said.icon,
    tone: said.tone,
    step: event.step,
    text: said.text,
    failure: isFailureEvent(event),
    ...(event.errorKind ? { errorKind: event.errorKind } : {}),
    ...(said.detail ? { detail: said.detail } : {}),
    ...(by ? { by } : {}),
    ...(event.reason ? { reason: event.reason } : {}),
  };
}

function sentence(e: SagaEvent, ctx: Context): Said {
  const step = `step ${e.step}`;
  const error = e.error ? `: ${e.error}` : "";
  const retryIn = e.nextAttemptTime && e.time ? ` (retry in ${durationText(timestampMs(e.nextAttemptTime) - timestampMs(e.time))})` : "";
  const compensating = e.stepStatus === StepStatus.COMPENSATING;
  switch (e.type) {
    case EventType.SAGA_CREATED:
      return { icon: "✦", tone: "idle", text: e.message || "saga created" };
    case EventType.SAGA_STATUS_CHANGED: {
      const to = sagaStatusLook(e.sagaStatus);
      const from = ctx.previousSagaStatus === undefined ? "" : `${sagaStatusLook(ctx.previousSagaStatus).label} → `;
      return { icon: "●", tone: to.tone, text: `saga ${from}${to.label}` };
    }
    case EventType.STEP_STARTED:
      return { icon: "▶", tone: "active", text: `${step}: ${ctx.attempts(e.attempt)} started${startedExtra(e)}` };
    case EventType.STEP_COMPLETED:
      return { icon: "✓", tone: "done", text: `${step}: completed on ${ctx.attempts(e.attempt)}` };
    case EventType.STEP_RETRY_SCHEDULED:
      return { icon: "↻", tone: "waiting", text: `${step}: ${ctx.attempts(e.attempt)} failed${error}${retryIn}` };
    case EventType.STEP_FAILED:
      return { icon: "✕", tone: "failed", text: `${step}: ${ctx.attempts(e.attempt)} failed for good${error}` };
    case EventType.STEP_SKIPPED:
      return { icon: "↷", tone: "skipped", text: `${step}: skipped`, detail: `stand-in output ${compactJson(e.output ?? {})}` };
    case EventType.STEP_RESET:
      return { icon: "⟲", tone: compensating ? "undoing" : "active", text: e.message || `${step}: reset` };
    case EventType.COMPENSATION_STARTED:
      return { icon: "↶", tone: "undoing", text: `${step}: compensation ${ctx.attempts(e.attempt)} started${startedExtra(e)}` };
    case EventType.COMPENSATION_COMPLETED:
      return { icon: "✓", tone: "undone", text: `${step}: compensated on ${ctx.attempts(e.attempt)}` };
    case EventType.COMPENSATION_RETRY_SCHEDULED:
      return { icon: "↻", tone: "waiting", text: `${step}: compensation ${ctx.attempts(e.attempt)} failed${error}${retryIn}` };
    case EventType.COMPENSATION_FAILED:
      return { icon: "✕", tone: "failed", text: `${step}: compensation ${ctx.attempts(e.attempt)} failed for good${error}` };
    case EventType.STEP_CANCELLED:
      return { icon: "⊘", tone: "stopped", text: `${e.message || `${step} cancelled`}${e.error ? ` (${e.error})` : ""}` };
    case EventType.STEP_RECOVERED:
      return { icon: "⇄", tone: "waiting", text: `${step}: ${withoutStepName(e.message, e.step) || `${ctx.attempts(e.attempt)} runs again`}` };
    case EventType.STEP_DEFERRED: {
      // The refused attempt is given back, so the event carries the attempt before it.
      const what = compensating ? `compensation ${ctx.attempts(e.attempt + 1)}` : ctx.attempts(e.attempt + 1);
      const next = retryIn.replace("retry in", "next try in");
      return { icon: "‖", tone: "waiting", text: `${step}: ${what} not made, circuit breaker open${error}${next}` };
    }
    default:
      return { icon: "•", tone: "idle", text: e.message || eventTypeName(e.type) };
  }
}

/** What the server added to a start message after "started": why it started, or the worker queue. */
function startedExtra(e: SagaEvent): string {
  const at = e.message.indexOf(" started");
  return at < 0 ? "" : e.message.slice(at + " started".length);
}

function withoutStepName(message: string, step: string): string {
  return message.replace(` of step ${step}`, "");
}

const DETAIL_LIMIT = 200;

function compactJson(value: unknown): string {
  const text = JSON.stringify(value);
  return text.length > DETAIL_LIMIT ? `${text.slice(0, DETAIL_LIMIT)}…` : text;
}
