import { Code, type ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Backoff, FailurePolicy, SagaStatus, StepStatus, type Saga, type SagaClient } from "../../src/client/index.js";
import { BadRequestSchema } from "../../src/gen/google/rpc/error_details_pb.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createTestActions } from "../helpers/test-actions.js";
import { waitForStatus, waitUntil } from "../helpers/wait.js";
import { collectWatch, errorInfo, expectCode, ONE_ATTEMPT, PROTOCOLS, violationFields, type StepSpecInit } from "../helpers/rpc.js";

const UNKNOWN_ID = "6a1e9a52-3c1f-4e8b-9a51-0d2f6a7b8c9d";
const ERROR_DOMAIN = "sagad.saga.v1";

/** Every RPC that takes a saga id, called with `id`. */
function callsWithId(client: SagaClient, id: string): [string, () => Promise<unknown>][] {
  return [
    ["GetSaga", () => client.getSaga({ id })],
    ["DeleteSaga", () => client.deleteSaga({ id })],
    ["DeleteSaga(force)", () => client.deleteSaga({ id, force: true })],
    ["RetrySaga", () => client.retrySaga({ id })],
    ["RollbackSaga", () => client.rollbackSaga({ id })],
    ["CancelSaga", () => client.cancelSaga({ id, reason: "x" })],
    ["RetryStep", () => client.retryStep({ id, step: "a" })],
    ["RetryStep(config)", () => client.retryStep({ id, step: "a", config: { k: 1 } })],
    ["SkipStep", () => client.skipStep({ id, step: "a" })],
    ["WatchSaga", () => collectWatch(client, { id })],
    ["WatchSaga(after_sequence)", () => collectWatch(client, { id, afterSequence: 3n })],
    ["WatchSaga(follow)", () => collectWatch(client, { id, follow: true })],
  ];
}

describe.each(PROTOCOLS)("errors over %s", (protocol) => {
  const t = createTestActions();
  let srv: TestServer;
  let client: SagaClient;
  beforeAll(async () => {
    srv = await startTestServer({ actions: t.actions });
    client = srv.client({ protocol });
  });
  afterAll(() => srv?.close());

  const stepOf = (saga: Saga, name: string) => saga.steps.find((s) => s.name === name)!;

  async function completedSaga(): Promise<Saga> {
    const { saga } = await client.createSaga({ name: "done", steps: [{ name: "a", action: "noop" }] });
    return waitForStatus(client, saga!.id, SagaStatus.COMPLETED);
  }

  /** RUNNING, held by a gate step that the test must release. */
  async function runningSaga(): Promise<Saga> {
    const { saga } = await client.createSaga({ name: "running", steps: [{ name: "a", action: "gate" }] });
    const id = saga!.id;
    await waitUntil(() => t.calls.some((c) => c.sagaId === id), "gate step started");
    return waitForStatus(client, id, SagaStatus.RUNNING);
  }

  /** FAILED with step `a` COMPLETED and step `b` FAILED. */
  async function failedSaga(maxRetries = 0): Promise<Saga> {
    const { saga } = await client.createSaga({
      name: "failed",
      maxRetries,
      steps: [
        { name: "a", action: "noop" },
        { name: "b", action: "fail", dependsOn: ["a"], retryPolicy: ONE_ATTEMPT },
      ],
    });
    return waitForStatus(client, saga!.id, SagaStatus.FAILED);
  }

  /**
   * FAILED_PRECONDITION naming `state` in the message (as DESIGN §2 asks of a refused operation)
   * and in ErrorInfo, and nothing changed.
   */
  async function expectRefused(saga: Saga, call: Promise<unknown>, state: string, reason = "FAILED_PRECONDITION"): Promise<ConnectError> {
    const err = await expectCode(call, Code.FailedPrecondition);
    if (reason === "FAILED_PRECONDITION") expect(err.rawMessage).toMatch(new RegExp(`\\b${state}\\b`));
    const info = errorInfo(err);
    expect(info.reason).toBe(reason);
    expect(info.domain).toBe(ERROR_DOMAIN);
    expect(info.metadata["state"]).toBe(state);
    const { saga: after } = await client.getSaga({ id: saga.id });
    expect(after!.sequence, "a refused operation must not change the saga").toBe(saga.sequence);
    return err;
  }

  describe("ids", () => {
    it.each(callsWithId({} as SagaClient, UNKNOWN_ID).map(([name]) => name))("%s of an unknown id answers NOT_FOUND", async (name) => {
      const call = callsWithId(client, UNKNOWN_ID).find(([n]) => n === name)![1];
      const err = await expectCode(call(), Code.NotFound);
      expect(err.rawMessage).toContain(UNKNOWN_ID);
      expect(errorInfo(err).reason).toBe("NOT_FOUND");
    });

    it.each(callsWithId({} as SagaClient, "x").map(([name]) => name))("%s of a malformed id answers INVALID_ARGUMENT", async (name) => {
      for (const bad of ["not-a-uuid", `${UNKNOWN_ID}0`, "'; DROP TABLE sagas; --"]) {
        const call = callsWithId(client, bad).find(([n]) => n === name)![1];
        const err = await expectCode(call(), Code.InvalidArgument);
        expect(err.rawMessage).toMatch(/^id: /);
        expect(violationFields(err)).toEqual(["id"]);
      }
      const missing = callsWithId(client, "").find(([n]) => n === name)![1];
      const err = await expectCode(missing(), Code.InvalidArgument);
      expect(violationFields(err)).toEqual(["id"]);
    });

    it("RetryStep and SkipStep of an unknown step answer NOT_FOUND naming the step", async () => {
      const saga = await failedSaga();
      for (const call of [() => client.retryStep({ id: saga.id, step: "zzz" }), () => client.skipStep({ id: saga.id, step: "zzz" })]) {
        const err = await expectCode(call(), Code.NotFound);
        expect(err.rawMessage).toContain("zzz");
      }
    });

    it("RetryStep of an unknown step answers NOT_FOUND with a replacement config too", async () => {
      // Whether the optional config is given must not change what an unknown step answers.
      const saga = await failedSaga();
      const err = await expectCode(client.retryStep({ id: saga.id, step: "zzz", config: { k: 1 } }), Code.NotFound);
      expect(err.rawMessage).toContain("zzz");
    });
  });

  describe("other arguments", () => {
    it("WatchSaga with a negative after_sequence", async () => {
      const saga = await completedSaga();
      const err = await expectCode(collectWatch(client, { id: saga.id, afterSequence: -1n }), Code.InvalidArgument);
      expect(violationFields(err)).toEqual(["after_sequence"]);
    });

    it("CancelSaga with a reason over 1,000 characters", async () => {
      const saga = await runningSaga();
      const err = await expectCode(client.cancelSaga({ id: saga.id, reason: "x".repeat(1001) }), Code.InvalidArgument);
      expect(violationFields(err)).toEqual(["reason"]);
      expect((await client.getSaga({ id: saga.id })).saga!.status).toBe(SagaStatus.RUNNING);
      t.release(saga.id, "a");
      await waitForStatus(client, saga.id, SagaStatus.COMPLETED);
    });

    it("RetryStep with a replacement config whose template reads a step that is not upstream", async () => {
      const saga = await failedSaga();
      const err = await expectCode(
        client.retryStep({ id: saga.id, step: "a", config: { x: "{{steps.b.output.y}}" } }),
        Code.InvalidArgument,
      );
      expect(violationFields(err)).toEqual(["config.x"]);
      expect((await client.getSaga({ id: saga.id })).saga!.sequence).toBe(saga.sequence);
    });

    it("RetryStep and SkipStep without a step name", async () => {
      const saga = await failedSaga();
      for (const call of [client.retryStep({ id: saga.id }), client.skipStep({ id: saga.id })]) {
        const err = await expectCode(call, Code.InvalidArgument);
        expect(violationFields(err)).toEqual(["step"]);
      }
    });
  });

  describe("refused control operations", () => {
    it("RetrySaga on a COMPLETED saga", async () => {
      const saga = await completedSaga();
      await expectRefused(saga, client.retrySaga({ id: saga.id }), "COMPLETED");
    });

    it("RetrySaga on a RUNNING saga", async () => {
      const saga = await runningSaga();
      await expectRefused(saga, client.retrySaga({ id: saga.id }), "RUNNING");
      t.release(saga.id, "a");
      await waitForStatus(client, saga.id, SagaStatus.COMPLETED);
    });

    it("RollbackSaga on a COMPLETED saga", async () => {
      const saga = await completedSaga();
      await expectRefused(saga, client.rollbackSaga({ id: saga.id }), "COMPLETED");
    });

    it("CancelSaga on a COMPLETED saga", async () => {
      const saga = await completedSaga();
      await expectRefused(saga, client.cancelSaga({ id: saga.id }), "COMPLETED");
    });

    it("RetryStep on a COMPLETED step (of a FAILED saga)", async () => {
      const saga = await failedSaga();
      expect(stepOf(saga, "a").status).toBe(StepStatus.COMPLETED);
      const err = await expectRefused(saga, client.retryStep({ id: saga.id, step: "a" }), "COMPLETED");
      expect(err.rawMessage).toContain("step a");
    });

    it("SkipStep on a COMPLETED step (of a FAILED saga)", async () => {
      const saga = await failedSaga();
      const err = await expectRefused(saga, client.skipStep({ id: saga.id, step: "a" }), "COMPLETED");
      expect(err.rawMessage).toContain("step a");
    });

    it("DeleteSaga on a RUNNING saga", async () => {
      const saga = await runningSaga();
      await expectRefused(saga, client.deleteSaga({ id: saga.id }), "RUNNING");
      await expectRefused(saga, client.deleteSaga({ id: saga.id, force: true }), "RUNNING");
      t.release(saga.id, "a");
      await waitForStatus(client, saga.id, SagaStatus.COMPLETED);
    });

    it("DeleteSaga of a FAILED saga needs force", async () => {
      const saga = await failedSaga();
      const err = await expectRefused(saga, client.deleteSaga({ id: saga.id }), "FAILED");
      expect(err.rawMessage).toContain("force");
      const res = await client.deleteSaga({ id: saga.id, force: true });
      expect(res.id).toBe(saga.id);
      await expectCode(client.getSaga({ id: saga.id }), Code.NotFound);
    });

    it("RetrySaga beyond max_retries", async () => {
      const saga = await failedSaga(1);
      expect(saga.maxRetries).toBe(1);
      const { saga: retried } = await client.retrySaga({ id: saga.id });
      expect(retried!.retryCount).toBe(1);
      const again = await waitForStatus(client, saga.id, SagaStatus.FAILED);
      // The state allows RetrySaga; the retry budget does not, and the message says so.
      const err = await expectRefused(again, client.retrySaga({ id: saga.id }), "FAILED", "RETRY_LIMIT_REACHED");
      expect(err.rawMessage).toContain("1 of 1 retries");
    });
  });
});

describe.each(PROTOCOLS)("CreateSaga and ListSagas validation over %s", (protocol) => {
  let srv: TestServer;
  let client: SagaClient;
  beforeAll(async () => {
    srv = await startTestServer();
    client = srv.client({ protocol });
  });
  afterAll(() => srv?.close());

  /** INVALID_ARGUMENT whose message leads with `field`, listed in BadRequest, reason in ErrorInfo. */
  async function expectInvalid(call: Promise<unknown>, field: string): Promise<ConnectError> {
    const err = await expectCode(call, Code.InvalidArgument);
    expect(err.rawMessage).toContain(field);
    expect(violationFields(err)).toContain(field);
    const info = errorInfo(err);
    expect(info.reason).toBe("INVALID_ARGUMENT");
    expect(info.domain).toBe(ERROR_DOMAIN);
    expect((await client.listSagas({})).sagas).toEqual([]);
    return err;
  }

  const chain = (n: number): StepSpecInit[] =>
    Array.from({ length: n }, (_, i) => ({ name: `s${i}`, action: "noop", dependsOn: i === 0 ? [] : [`s${i - 1}`] }));

  it("an unknown dependency of the 13th step is reported as steps[12].depends_on[0]", async () => {
    const steps = chain(13);
    steps[12]!.dependsOn = ["nope"];
    const err = await expectInvalid(client.createSaga({ name: "bad", steps }), "steps[12].depends_on[0]");
    expect(err.rawMessage).toMatch(/^steps\[12\]\.depends_on\[0\]: /);
    expect(err.rawMessage).toContain('"nope"');
    const [bad] = err.findDetails(BadRequestSchema);
    expect(bad!.fieldViolations).toHaveLength(1);
    expect(bad!.fieldViolations[0]!.description).toContain("nope");
  });

  it("every problem is listed, each under its own path", async () => {
    const steps = chain(12);
    steps[3]!.action = "no such action!";
    steps[10]!.dependsOn = ["s10"];
    steps[11]!.config = { url: "{{steps.s11.output.x}}", region: "{{vars.missing}}" };
    const err = await expectCode(
      client.createSaga({ name: "-bad name", steps, labels: { "bad key!": "v" }, maxRetries: 101 }),
      Code.InvalidArgument,
    );
    expect(violationFields(err)).toEqual(
      expect.arrayContaining([
        "name",
        "steps[3].action",
        "steps[10].depends_on[0]",
        "steps[11].config.url",
        "steps[11].config.region",
        'labels["bad key!"]',
        "max_retries",
      ]),
    );
    expect(err.rawMessage).toMatch(/\(and \d+ more\)/);
  });

  it("a dependency cycle is named", async () => {
    const err = await expectCode(
      client.createSaga({
        name: "cycle",
        steps: [
          { name: "a", action: "noop", dependsOn: ["c"] },
          { name: "b", action: "noop", dependsOn: ["a"] },
          { name: "c", action: "noop", dependsOn: ["b"] },
        ],
      }),
      Code.InvalidArgument,
    );
    expect(violationFields(err)).toHaveLength(1);
    expect(violationFields(err)[0]).toMatch(/^steps\[[012]\]\.depends_on$/);
    // Named along depends_on edges (a needs c, c needs b, b needs a), starting anywhere on it.
    expect(err.rawMessage).toMatch(/dependency cycle: (a -> c -> b -> a|c -> b -> a -> c|b -> a -> c -> b)$/);
    expect(errorInfo(err).reason).toBe("INVALID_ARGUMENT");
  });

  it("a template reading a step that is not upstream is rejected", async () => {
    const err = await expectInvalid(
      client.createSaga({
        name: "tpl",
        steps: [
          { name: "a", action: "noop" },
          { name: "b", action: "noop", config: { x: "{{steps.a.output.id}}" } },
        ],
      }),
      "steps[1].config.x",
    );
    expect(err.rawMessage).toContain("upstream");
  });

  it("no steps, no name", async () => {
    await expectInvalid(client.createSaga({ name: "x", steps: [] }), "steps");
    await expectInvalid(client.createSaga({ name: "", steps: chain(1) }), "name");
  });

  it("an unknown failure_policy enum value names the field", async () => {
    const err = await expectInvalid(client.createSaga({ name: "enum", steps: chain(1), failurePolicy: 99 as FailurePolicy }), "failure_policy");
    expect(err.rawMessage).toContain("99");
  });

  it("an unknown backoff enum value names the field", async () => {
    const steps = chain(2);
    steps[1]!.retryPolicy = { backoff: 42 as Backoff };
    await expectInvalid(client.createSaga({ name: "enum", steps }), "steps[1].retry_policy.backoff");
  });

  it("a Duration that is not one (nanos out of range, signs differing) names the field", async () => {
    const steps = chain(2);
    steps[0]!.retryPolicy = { initialInterval: { seconds: 1n, nanos: 1_500_000_000 } };
    steps[1]!.retryPolicy = { timeout: { seconds: 5n, nanos: -500_000_000 } };
    const err = await expectInvalid(client.createSaga({ name: "duration", steps }), "steps[0].retry_policy.initial_interval");
    expect(violationFields(err)).toContain("steps[1].retry_policy.timeout");
    expect(err.rawMessage).toContain("not a valid Duration");
  });

  it("ListSagas: negative page_size", async () => {
    await expectInvalid(client.listSagas({ pageSize: -1 }), "page_size");
  });

  it("ListSagas: garbage page_token", async () => {
    for (const token of ["garbage", "!!!", Buffer.from('{"c":"x","i":"y","f":"z"}').toString("base64url"), Buffer.from("[]").toString("base64url")]) {
      await expectInvalid(client.listSagas({ pageToken: token }), "page_token");
    }
  });

  it("ListSagas: unknown status enum value", async () => {
    await expectInvalid(client.listSagas({ status: 77 as SagaStatus }), "status");
  });

  it("stored nothing for any of the invalid requests above", async () => {
    expect((await client.listSagas({})).sagas).toEqual([]);
    const { rows } = await srv.db.pool.query<{ n: number }>(
      "SELECT (SELECT count(*) FROM sagas)::int + (SELECT count(*) FROM saga_steps)::int + (SELECT count(*) FROM saga_events)::int AS n",
    );
    expect(rows[0]!.n).toBe(0);
  });
});
