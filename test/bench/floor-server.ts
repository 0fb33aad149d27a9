/**
 * The framework floor of the watch benchmark: a bare Connect-ES server, with no database and no
 * sagad code, that plays sagad's part in `watchDelivery` from memory. CreateSaga takes the bench's
 * chain of sleep steps and commits, on plain timers, the same two events per step sagad commits
 * (STEP_COMPLETED with the next STEP_STARTED, or with SAGA_STATUS_CHANGED at the end), each
 * stamped with the time it was emitted; WatchSaga streams them one message per event, as sagad
 * does. What this server needs per message, and the latency it gives, is what Connect-ES costs at
 * that load: no code on top of it can do better on the same stack.
 *
 * It runs as a process of its own (floor-process.ts starts it compiled, or through tsx with
 * --source), so that like a sagad replica it has its own event loop and its CPU can be read from
 * /proc. It prints `floor listening on URL (metrics URL)`; GET /metrics on the second port serves
 * the one sagad metric the bench polls, `sagad_streams_open{method="WatchSaga"}`. SIGTERM ends it.
 */
import { randomUUID } from "node:crypto";
import http from "node:http";
import http2 from "node:http2";
import type net from "node:net";
import { create, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  EventType,
  SagaEventSchema,
  SagaService,
  SagaStatus,
  StepStatus,
  type SagaEvent,
} from "../../src/gen/saga/v1/saga_pb.js";

/** The fields the bench's events carry besides sequence, time and actor. */
interface EventInit {
  type: EventType;
  sagaStatus: SagaStatus;
  step?: string;
  stepStatus?: StepStatus;
  attempt?: number;
  output?: JsonObject;
  message: string;
}

interface FloorSaga {
  /** events[i] has sequence i + 1. */
  readonly events: SagaEvent[];
  readonly wake: Set<() => void>;
}

const sagas = new Map<string, FloorSaga>();
let streamsOpen = 0;

/** Appends events stamped with one commit time, then wakes the saga's watchers, as a commit does. */
function commit(saga: FloorSaga, ...events: EventInit[]): void {
  const time = timestampFromMs(Date.now());
  for (const e of events) {
    saga.events.push(create(SagaEventSchema, { ...e, sequence: BigInt(saga.events.length + 1), time, actor: "engine" }));
  }
  const wake = [...saga.wake];
  saga.wake.clear();
  for (const fn of wake) fn();
}

/** Sleeps each step in turn, committing its completion together with what follows it. */
function run(saga: FloorSaga, steps: readonly { name: string; ms: number }[], i: number): void {
  const step = steps[i]!;
  setTimeout(() => {
    const next = steps[i + 1];
    const completed: EventInit = {
      type: EventType.STEP_COMPLETED,
      sagaStatus: SagaStatus.RUNNING,
      step: step.name,
      stepStatus: StepStatus.COMPLETED,
      attempt: 1,
      output: { slept_ms: step.ms },
      message: `step ${step.name} completed`,
    };
    if (!next) {
      commit(saga, completed, { type: EventType.SAGA_STATUS_CHANGED, sagaStatus: SagaStatus.COMPLETED, message: "saga RUNNING -> COMPLETED" });
      return;
    }
    commit(saga, completed, started(next.name));
    run(saga, steps, i + 1);
  }, step.ms);
}

function started(step: string): EventInit {
  return { type: EventType.STEP_STARTED, sagaStatus: SagaStatus.RUNNING, step, stepStatus: StepStatus.RUNNING, attempt: 1, message: `step ${step} attempt 1 started` };
}

function changed(saga: FloorSaga, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      saga.wake.delete(done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    saga.wake.add(done);
    signal.addEventListener("abort", done);
  });
}

const routes = (router: ConnectRouter) =>
  router.service(SagaService, {
    createSaga(req) {
      // The bench's steps run one after another in the order given; each sleeps `duration` ("Nms").
      const steps = req.steps.map((s) => {
        const ms = /^(\d+)ms$/.exec(String(s.config?.["duration"]))?.[1];
        if (s.action !== "sleep" || ms === undefined) throw new ConnectError(`step ${s.name}: the floor runs sleep steps with a duration in ms only`, Code.InvalidArgument);
        return { name: s.name, ms: Number(ms) };
      });
      if (steps.length === 0) throw new ConnectError("no steps", Code.InvalidArgument);
      const id = randomUUID();
      const saga: FloorSaga = { events: [], wake: new Set() };
      sagas.set(id, saga);
      commit(saga, { type: EventType.SAGA_CREATED, sagaStatus: SagaStatus.RUNNING, message: "saga created" }, started(steps[0]!.name));
      run(saga, steps, 0);
      return { saga: { id, name: req.name, labels: req.labels, status: SagaStatus.RUNNING, sequence: BigInt(saga.events.length) } };
    },
    async *watchSaga(req, context) {
      const saga = sagas.get(req.id);
      if (!saga) throw new ConnectError(`saga ${req.id} not found`, Code.NotFound);
      if (req.afterSequence === undefined) throw new ConnectError("the floor resumes from after_sequence only", Code.Unimplemented);
      streamsOpen++;
      try {
        let next = Number(req.afterSequence);
        while (!context.signal.aborted) {
          while (next < saga.events.length) {
            const event = saga.events[next++]!;
            yield { kind: { case: "event", value: event } };
            if (event.sagaStatus !== SagaStatus.RUNNING) return;
          }
          await changed(saga, context.signal);
        }
      } finally {
        streamsOpen--;
      }
    },
  });

const server = http2.createServer(connectNodeAdapter({ routes }));
// As sagad's listener does: small frames must not wait for Nagle.
server.on("connection", (socket: net.Socket) => socket.setNoDelay(true));
const metrics = http.createServer((_req, res) => res.end(`sagad_streams_open{method="WatchSaga"} ${streamsOpen}\n`));
const port = (s: net.Server) => new Promise<number>((resolve) => s.listen(0, "127.0.0.1", () => resolve((s.address() as net.AddressInfo).port)));
const [rpcPort, metricsPort] = [await port(server), await port(metrics)];
process.stdout.write(`floor listening on http://127.0.0.1:${rpcPort} (metrics http://127.0.0.1:${metricsPort})\n`);
// A normal exit, so that --cpu-prof writes its profile.
process.once("SIGTERM", () => process.exit(0));
