import { createClient } from "@connectrpc/connect";
import { createSagadTransport } from "../client/index.js";
import { WorkerService } from "../gen/saga/v1/worker_pb.js";
import { describeError } from "./call-errors.js";
import { HeartbeatLoop } from "./heartbeat-loop.js";
import { runPollLoop } from "./poll-loop.js";
import { reportOutcome } from "./report-outcome.js";
import { resolveOptions } from "./resolve-options.js";
import { Session } from "./session.js";
import { installSignalHandlers } from "./signal-handlers.js";
import { runSubscribeLoop } from "./subscribe-loop.js";
import { TaskDispatcher } from "./task-dispatcher.js";
import type { WorkerOptions } from "./worker-options.js";

/**
 * A worker lives on one long connection: PINGs find one that a proxy or NAT silently stopped
 * forwarding, so calls move to a new connection within seconds instead of timing out forever.
 */
const CONNECTION_PING = { intervalMs: 5_000, timeoutMs: 5_000 };

/** Sent as RegisterWorkerRequest.sdk; keep the version in step with package.json (a test checks). */
export const SDK = "sagad-ts/0.1.0";

const CALL_TIMEOUT_MS = 10_000;
/** An ack retried longer than this is past any sensible ack deadline; the server re-offers the task. */
const ACK_RETRY_MS = 10_000;
/** Drain is a courtesy (the session stops getting tasks sooner); stop() does not wait long for it. */
const DRAIN_RETRY_MS = 5_000;
/** After the grace, how long aborted handlers get to settle and have their results sent. */
const ABORT_SETTLE_MS = 5_000;

/** A worker process's connection to sagad: one session, serving the actions it was given. */
export interface Worker {
  /** The instance_id it registers with; the same across re-registrations of this process. */
  readonly instanceId: string;
  /**
   * Registers (retrying while the server is unreachable) and starts taking tasks. Resolves once
   * registered; rejects if the server refuses the registration (bad token, invalid actions) or
   * stop() is called first. Calling it again returns the same promise.
   */
  start(): Promise<void>;
  /**
   * Graceful stop: tells the server (Drain), takes no new tasks, lets running tasks finish for
   * `stopGraceMs`, then aborts their signals and waits briefly for their results. Resolves when
   * every stream, timer and call of the worker has ended. Idempotent.
   */
  stop(): Promise<void>;
  /** SIGTERM/SIGINT call stop(); a second signal aborts running tasks without waiting out the grace. */
  installSignalHandlers(): void;
}

/** Builds a worker; nothing connects until start(). Throws a TypeError for invalid options. */
export function createWorker(options: WorkerOptions): Worker {
  const opts = resolveOptions(options);
  const { logger } = opts;
  const transport =
    options.transport ??
    createSagadTransport(options.url ?? "", {
      token: options.token,
      protocol: options.protocol ?? "connect",
      ping: CONNECTION_PING,
      interceptors: options.interceptors ?? [],
    });
  const client = createClient(WorkerService, transport);
  /** Ends everything: streams, polls, heartbeats and retried calls. */
  const closed = new AbortController();
  /** Ends polling when the session drains, before the rest closes. */
  const taking = new AbortController();
  closed.signal.addEventListener("abort", () => taking.abort(), { once: true });

  const session = new Session(
    client,
    {
      instanceId: opts.instanceId,
      actions: [...opts.actions].map(([name, { maxConcurrency }]) => ({ name, maxConcurrency })),
      slots: opts.slots,
      labels: opts.labels,
      sdk: SDK,
    },
    closed.signal,
    logger,
  );
  const dispatcher: TaskDispatcher = new TaskDispatcher({
    options: opts,
    logger,
    acknowledge: async (tokens) => {
      const call = (sessionId: string) =>
        client.ackTasks({ sessionId, tokens }, { signal: closed.signal, timeoutMs: CALL_TIMEOUT_MS });
      return new Set((await session.call(call, ACK_RETRY_MS)).rejectedTokens);
    },
    report: (task, outcome) => reportOutcome(client, task.token, outcome, { signal: closed.signal, logger, fields: task.fields }),
    requestHeartbeat: () => heartbeats.request(),
    taskStarted: () => heartbeats.reschedule(),
  });
  const stopTaking = (why: string): void => {
    if (dispatcher.draining) return;
    logger.info(`${why}: taking no new tasks`, { instance_id: opts.instanceId });
    dispatcher.drain();
    taking.abort();
  };
  const onDraining = (): void => stopTaking("the server is draining this session");
  const heartbeats = new HeartbeatLoop({ client, session, dispatcher, logger, onDraining, signal: closed.signal });

  let starting: Promise<void> | undefined;
  let loop: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  let running = false;
  let uninstallSignals: (() => void) | undefined;
  let force: () => void = () => {};
  const forced = new Promise<false>((resolve) => (force = () => resolve(false)));

  const start = async (): Promise<void> => {
    if (closed.signal.aborted) throw new Error("the worker was stopped");
    if (opts.handleSignals) worker.installSignalHandlers();
    await session.current();
    if (closed.signal.aborted) throw new Error("the worker was stopped before it registered");
    running = true;
    heartbeats.start();
    const deps = { client, session, dispatcher, logger };
    loop =
      opts.mode === "poll"
        ? runPollLoop({ ...deps, waitMs: opts.pollWaitMs, signal: taking.signal })
        : runSubscribeLoop({ ...deps, idleTimeoutMs: opts.streamIdleTimeoutMs, onDraining, signal: closed.signal });
  };

  const finishInFlight = async (): Promise<void> => {
    if (await Promise.race([dispatcher.whenIdle(opts.stopGraceMs), forced])) return;
    logger.warn("aborting running tasks", { tasks: dispatcher.runningTasks().length });
    dispatcher.abortAll("the worker is stopping");
    if (!(await dispatcher.whenIdle(ABORT_SETTLE_MS))) logger.warn("some tasks did not settle after their abort");
  };

  const shutdown = async (): Promise<void> => {
    if (running) {
      stopTaking("stopping");
      const drain = (sessionId: string) => client.drain({ sessionId }, { signal: closed.signal, timeoutMs: CALL_TIMEOUT_MS });
      await session.call(drain, DRAIN_RETRY_MS).catch((err: unknown) => logger.warn("drain failed", { error: describeError(err) }));
      await finishInFlight();
    }
    closed.abort();
    await Promise.all([loop, heartbeats.stop(), starting?.catch(() => {})]);
    uninstallSignals?.();
    logger.info("stopped", { instance_id: opts.instanceId });
  };

  const worker: Worker = {
    instanceId: opts.instanceId,
    start: () => (starting ??= start()),
    stop: () => (stopping ??= shutdown()),
    installSignalHandlers() {
      uninstallSignals ??= installSignalHandlers(() => void worker.stop(), force);
    },
  };
  return worker;
}
