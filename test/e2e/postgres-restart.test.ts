import { Code, ConnectError } from "@connectrpc/connect";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSagaClient, EventType, SagaStatus, StepStatus, type SagaClient, type SagaEvent } from "../../src/client/index.js";
import { DEFAULT_VALIDATION_LIMITS } from "../../src/domain/validate-saga.js";
import { build, type Server } from "../../src/server.js";
import { EVENTS_CHANNEL } from "../../src/store/saga-store.js";
import { startRestartablePostgres, type RestartablePostgres } from "../helpers/restartable-postgres.js";
import { callsFor, eventsOfType, sagaHistory } from "../helpers/saga-history.js";
import { createTestActions } from "../helpers/test-actions.js";
import { createTestToken } from "../helpers/tokens.js";
import { waitUntil } from "../helpers/wait.js";

const SAGAS = 30;
const STEPS = ["s1", "s2", "s3", "s4"];
const LEASE_TTL_MS = 2_000;
const OUTAGE_MS = 2_000;
/** Every saga must be COMPLETED this long after postgres is back. */
const RECOVERY_BUDGET_MS = 30_000;
/** A watch opened before the outage must end (normally or with an error) within this. */
const WATCH_BUDGET_MS = 40_000;

/** How one WatchSaga stream opened before the outage ended. */
interface WatchOutcome {
  events: SagaEvent[];
  /** Set when the stream ended with an error. */
  error: ConnectError | null;
  /** Set when our own budget had to cut it off: a hang. */
  hung: boolean;
}

/**
 * DESIGN.md §3 says Postgres holds the truth; this checks the replica survives Postgres itself
 * going away mid-run: a private cluster is fast-shut-down while ~30 sagas are in flight, kept down
 * for 2 s and started again on the same port. The replica must reconnect (pool and LISTEN
 * connection), retry the commits that failed meanwhile, answer requests made during the outage
 * quickly with UNAVAILABLE, end or continue every open watch, and finish every saga.
 */
describe("a PostgreSQL restart in the middle of a run", () => {
  let postgres: RestartablePostgres | undefined;
  let server: Server | undefined;
  const logLines: string[] = [];

  beforeAll(async () => {
    postgres = await startRestartablePostgres();
  });

  afterAll(async () => {
    // If a test failed with postgres down, bring it back so the server can close cleanly.
    await postgres?.start().catch(() => undefined);
    await server?.close();
    await postgres?.close();
  });

  it("reconnects, retries failed commits, fails fast meanwhile, and finishes every saga", async () => {
    const pgServer = postgres!;
    const actions = createTestActions();
    server = await build({
      databaseUrl: pgServer.databaseUrl,
      host: "127.0.0.1",
      port: 0,
      replicaId: "pg-restart",
      leaseTtlMs: LEASE_TTL_MS,
      pollIntervalMs: 200,
      limits: DEFAULT_VALIDATION_LIMITS,
      maxRequestBytes: 32 * 1024 * 1024,
      shutdownGraceMs: 500,
      poolSize: 10,
      actions: actions.actions,
      logger: pino({ level: "warn" }, { write: (line: string) => void logLines.push(line.trimEnd()) }),
    });
    const { token } = await createTestToken(server.pool);
    await server.tokens.reload();
    const client = createSagaClient(server.url, { token });
    const diagnostics = () => `--- sagad warnings/errors (last 40) ---\n${logLines.slice(-40).join("\n")}\n--- postgres ---\n${pgServer.output().slice(-3_000)}`;

    // One saga is parked on a gate through the whole outage: its watcher sits idle meanwhile.
    const { saga: parked } = await client.createSaga({
      name: "pg-restart-parked",
      requestId: "pg-restart-parked",
      steps: [
        { name: "gate", action: "gate" },
        { name: "after", action: "record", dependsOn: ["gate"] },
      ],
    });
    const parkedId = parked!.id;
    const watchStarted = performance.now();
    const parkedWatch = watchUntilEnd(client, parkedId, WATCH_BUDGET_MS);

    // Created at once, so they run side by side; each is watched from its start by a stream
    // opened before the outage.
    const created = await Promise.all(
      Array.from({ length: SAGAS }, async (_, i) => {
        const { saga } = await client.createSaga({
          name: "pg-restart",
          requestId: `pg-restart-${i}`,
          steps: STEPS.map((name, j) => ({
            name,
            action: "slow",
            // 50–200 ms, spread so sagas are at different steps when postgres goes away.
            config: { ms: 50 + ((i * 37 + j * 53) % 151) },
            dependsOn: j === 0 ? [] : [STEPS[j - 1]!],
          })),
        });
        return { id: saga!.id, watch: watchUntilEnd(client, saga!.id, WATCH_BUDGET_MS) };
      }),
    );
    const ids = created.map((c) => c.id);

    // Mid-run: every watch is streaming, every first step has started and about half the sagas
    // are past it.
    await waitUntil(
      () => parkedWatch.events.length > 0 && created.every((c) => c.watch.events.length > 0) && actions.calls.length >= SAGAS * 1.5,
      "sagas and their watches to get going",
      10_000,
    );
    const activeAtStop = server.engine.activeSagaCount();
    const callsAtStop = actions.calls.length;
    expect(activeAtStop, "sagas still running when postgres stops").toBeGreaterThanOrEqual(SAGAS / 2 + 1);

    const stopStarted = performance.now();
    await pgServer.stop();
    const stoppedAt = performance.now();

    // Requests during the outage fail fast with UNAVAILABLE (never hang, never INTERNAL).
    const duringOutage = async (call: () => Promise<unknown>) => {
      const started = performance.now();
      const error = await call().then(
        () => null,
        (err: unknown) => ConnectError.from(err),
      );
      return { error, ms: performance.now() - started };
    };
    const create = await duringOutage(() =>
      client.createSaga(
        { name: "pg-restart-outage", requestId: "pg-restart-outage", steps: [{ name: "only", action: "record" }] },
        { timeoutMs: 15_000 },
      ),
    );
    const get = await duringOutage(() => client.getSaga({ id: ids[0]! }, { timeoutMs: 15_000 }));
    expect(create.error, "CreateSaga during the outage must fail").not.toBeNull();
    expect(Code[create.error!.code], `CreateSaga during the outage: ${create.error!.message}`).toBe("Unavailable");
    expect(create.ms, "CreateSaga during the outage must fail fast").toBeLessThan(3_000);
    expect(get.error, "GetSaga during the outage must fail").not.toBeNull();
    expect(Code[get.error!.code], `GetSaga during the outage: ${get.error!.message}`).toBe("Unavailable");
    expect(get.ms).toBeLessThan(3_000);

    const remaining = OUTAGE_MS - (performance.now() - stoppedAt);
    if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining));
    const restartStarted = performance.now();
    await pgServer.start();
    const upAt = performance.now();

    // Every saga completes, without any client help.
    const pending = new Set(ids);
    const last = new Map<string, string>();
    const deadline = upAt + RECOVERY_BUDGET_MS;
    while (pending.size > 0 && performance.now() < deadline) {
      for (const id of [...pending]) {
        const saga = await client.getSaga({ id }).then(
          (res) => res.saga!,
          (err: unknown) => (last.set(id, `GetSaga failed: ${String(err)}`), null),
        );
        if (!saga) continue;
        last.set(id, `${SagaStatus[saga.status]} [${saga.steps.map((s) => `${s.name}:${StepStatus[s.status]}`).join(" ")}] ${saga.error}`);
        if (saga.status === SagaStatus.COMPLETED) pending.delete(id);
      }
      if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const allDoneAt = performance.now();
    expect(
      [...pending].map((id) => `${id}: ${last.get(id)}`),
      `sagas not COMPLETED ${RECOVERY_BUDGET_MS} ms after postgres came back\n${diagnostics()}`,
    ).toEqual([]);

    // The LISTEN connection is back: a NOTIFY from outside reaches the replica's bus.
    const probeId = "00000000-0000-4000-8000-000000000001";
    let notified = false;
    const unsubscribe = server.bus.subscribe(probeId, () => (notified = true));
    const admin = new pg.Client(pgServer.databaseUrl);
    await admin.connect();
    try {
      await waitUntil(
        async () => {
          await admin.query("SELECT pg_notify($1, $2)", [EVENTS_CHANNEL, `${probeId}:1`]);
          await new Promise((resolve) => setTimeout(resolve, 50));
          return notified;
        },
        `the LISTEN connection to reconnect\n${diagnostics()}`,
        15_000,
      );
    } finally {
      unsubscribe();
      await admin.end();
    }
    const listenBackAt = performance.now();

    // The pool is back: a new saga is created and runs to the end.
    const { saga: after } = await client.createSaga(
      { name: "pg-restart-after", requestId: "pg-restart-after", steps: [{ name: "only", action: "record" }] },
      { timeoutMs: 10_000 },
    );
    await waitUntil(
      async () => (await client.getSaga({ id: after!.id })).saga!.status === SagaStatus.COMPLETED,
      "a saga created after the restart to complete",
      10_000,
    );
    // The CreateSaga refused during the outage left nothing behind.
    const { sagas: fromOutage } = await client.listSagas({ name: "pg-restart-outage" });
    expect(fromOutage).toEqual([]);

    // The parked saga resumes after the restart, and its idle watcher (it had nothing to read
    // during the outage) simply continues to the end. Only asserted when postgres was back before
    // the watch's 5 s backstop re-read (watch-saga.ts) could have fallen into the outage.
    actions.release(parkedId, "gate");
    const parkedOutcome = await parkedWatch.done;
    expect(parkedOutcome.hung, "WatchSaga of the parked saga hung").toBe(false);
    if (upAt - watchStarted < 4_500) {
      expect(parkedOutcome.error?.message ?? null, "WatchSaga of the parked saga").toBeNull();
    } else {
      expect(parkedOutcome.error === null || parkedOutcome.error.code === Code.Unavailable, "WatchSaga of the parked saga").toBe(true);
    }
    const parkedEvents = parkedOutcome.error
      ? [...parkedOutcome.events, ...(await sagaHistoryAfter(client, parkedId, parkedOutcome.events.at(-1)?.sequence ?? 0n))]
      : parkedOutcome.events;
    expect(parkedEvents.map((e) => e.sequence)).toEqual(consecutive(parkedEvents.length));
    expect(SagaStatus[parkedEvents.at(-1)!.sagaStatus]).toBe("COMPLETED");

    // Every watch opened before the outage ended, either normally or with an error; none hung.
    const outcomes = await Promise.all(created.map((c) => c.watch.done));
    const watchesEndedAt = performance.now();
    const watchSummary = { completed: 0, unavailable: 0, otherErrors: [] as string[] };
    for (const [i, outcome] of outcomes.entries()) {
      const id = ids[i]!;
      expect(outcome.hung, `WatchSaga of ${id} hung (${outcome.events.length} events)`).toBe(false);
      let events = outcome.events;
      if (outcome.error) {
        if (outcome.error.code === Code.Unavailable) watchSummary.unavailable++;
        else watchSummary.otherErrors.push(`${id}: ${Code[outcome.error.code]} ${outcome.error.message}`);
        // The documented recovery: resume after the last event seen.
        const resumeAfter = events.at(-1)?.sequence ?? 0n;
        events = [...events, ...(await sagaHistoryAfter(client, id, resumeAfter))];
      } else {
        watchSummary.completed++;
      }
      expect(events.map((e) => e.sequence), `watched events of ${id}`).toEqual(consecutive(events.length));
      expect(SagaStatus[events.at(-1)!.sagaStatus], `last watched event of ${id}`).toBe("COMPLETED");
    }
    expect(watchSummary.otherErrors, "watches may end with UNAVAILABLE only").toEqual([]);

    // Histories: gapless, every step completed exactly once; actions ran at least once each.
    let reruns = 0;
    let recovered = 0;
    for (const id of ids) {
      const history = await sagaHistory(client, id);
      expect(history.map((e) => e.sequence), `sequences of ${id}`).toEqual(consecutive(history.length));
      expect(eventsOfType(history, EventType.STEP_COMPLETED).map((e) => e.step), `STEP_COMPLETED of ${id}`).toEqual(STEPS);
      recovered += eventsOfType(history, EventType.STEP_RECOVERED).length;
      const saga = (await client.getSaga({ id })).saga!;
      expect(saga.steps.map((s) => StepStatus[s.status])).toEqual(STEPS.map(() => "COMPLETED"));
      for (const step of STEPS) {
        const calls = callsFor(actions.calls, id, step);
        expect(calls.length, `calls of ${id}/${step}`).toBeGreaterThanOrEqual(1);
        expect(new Set(calls.map((c) => c.idempotencyKey))).toEqual(new Set([`${id}/${step}`]));
        reruns += calls.length - 1;
      }
    }

    const ms = (t: number) => Math.round(t);
    console.log(
      JSON.stringify({
        activeSagasAtStop: activeAtStop,
        actionCallsAtStop: callsAtStop,
        stopMs: ms(stoppedAt - stopStarted),
        createDuringOutage: { code: Code[create.error!.code], ms: ms(create.ms) },
        getDuringOutage: { code: Code[get.error!.code], ms: ms(get.ms) },
        downMs: ms(upAt - stoppedAt),
        startMs: ms(upAt - restartStarted),
        allCompletedAfterUpMs: ms(allDoneAt - upAt),
        listenConfirmedAfterUpMs: ms(listenBackAt - upAt),
        watchesEndedAfterStartMs: ms(watchesEndedAt - watchStarted),
        watches: watchSummary,
        parkedWatch: parkedOutcome.error ? Code[parkedOutcome.error.code] : "continued",
        actionReruns: reruns,
        stepRecoveredEvents: recovered,
        transientRetryWarnings: logLines.filter((l) => l.includes("transient database error")).length,
        errorLogs: logLines.filter((l) => l.includes('"level":50')).length,
      }),
    );
  }, 90_000);
});

/**
 * Reads a saga's WatchSaga stream from the start until it ends by itself, errs, or `budgetMs`
 * passes; `events` fills up as they arrive.
 */
function watchUntilEnd(client: SagaClient, id: string, budgetMs: number): { events: SagaEvent[]; done: Promise<WatchOutcome> } {
  const events: SagaEvent[] = [];
  const done = (async (): Promise<WatchOutcome> => {
    const cutOff = new AbortController();
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      cutOff.abort();
    }, budgetMs);
    try {
      for await (const msg of client.watchSaga({ id, afterSequence: 0n }, { signal: cutOff.signal })) {
        if (msg.kind.case === "event") events.push(msg.kind.value);
      }
      return { events, error: null, hung };
    } catch (err) {
      return { events, error: hung ? null : ConnectError.from(err), hung };
    } finally {
      clearTimeout(timer);
    }
  })();
  return { events, done };
}

/** The events after `afterSequence`, through a fresh watch that ends once the saga rests. */
async function sagaHistoryAfter(client: SagaClient, id: string, afterSequence: bigint): Promise<SagaEvent[]> {
  const events: SagaEvent[] = [];
  for await (const msg of client.watchSaga({ id, afterSequence }, { signal: AbortSignal.timeout(10_000) })) {
    if (msg.kind.case === "event") events.push(msg.kind.value);
  }
  return events;
}

function consecutive(n: number): bigint[] {
  return Array.from({ length: n }, (_, i) => BigInt(i + 1));
}
