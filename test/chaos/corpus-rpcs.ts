import { createHash } from "node:crypto";
import { Code } from "@connectrpc/connect";
import type { SagaStatus } from "../../src/client/index.js";
import { chars, DECODER_REFUSAL, nested, type Expectation, type Fixtures, type TypedCase } from "./corpus.js";

const UNKNOWN_ID = "00000000-0000-4000-8000-000000000000";
const BAD_IDS: [string, string][] = [
  ["empty id", ""],
  ["id that is not a UUID", "not-a-uuid"],
  ["id of 10,000 characters", chars(10_000, "a")],
  ["id with SQL in it", "' OR 1=1 --"],
];

/**
 * Malformed or misdirected calls of the other RPCs: bad ids, unknown sagas and steps, operations
 * that do not apply in the fixtures' states, garbage page tokens, huge page sizes. The fixtures
 * must come out unchanged (the scenario compares their sequences before and after).
 */
export function otherRpcCases(): TypedCase[] {
  const cases: TypedCase[] = [];
  const add = (name: string, rpc: string, call: TypedCase["call"], want: Expectation) => cases.push({ name, rpc, call, ...want });
  const invalid = (field: string, message?: string): Expectation => ({ code: Code.InvalidArgument, field, message });
  const token = (cursor: unknown) => Buffer.from(JSON.stringify(cursor)).toString("base64url");
  // The hash ListSagas puts in a token for "no filters" (src/store/list-sagas.ts filterHash).
  const noFilters = createHash("sha256").update(JSON.stringify([null, null, []])).digest("base64url").slice(0, 12);
  const cursor = { c: "2024-01-01T00:00:00.000000Z", i: UNKNOWN_ID, f: noFilters };

  for (const [label, id] of BAD_IDS) {
    add(`GetSaga, ${label}`, "GetSaga", (c, _f, o) => c.getSaga({ id }, o), invalid("id"));
    add(`WatchSaga, ${label}`, "WatchSaga", (c, _f, o) => drain(c.watchSaga({ id, afterSequence: 0n }, o)), invalid("id"));
  }
  add("DeleteSaga, id that is not a UUID", "DeleteSaga", (c, _f, o) => c.deleteSaga({ id: "x" }, o), invalid("id"));
  add("RetrySaga, empty id", "RetrySaga", (c, _f, o) => c.retrySaga({ id: "" }, o), invalid("id"));
  add("RollbackSaga, id that is not a UUID", "RollbackSaga", (c, _f, o) => c.rollbackSaga({ id: "1234" }, o), invalid("id"));
  add("CancelSaga, id that is not a UUID", "CancelSaga", (c, _f, o) => c.cancelSaga({ id: "abc" }, o), invalid("id"));
  add("RetryStep, id that is not a UUID", "RetryStep", (c, _f, o) => c.retryStep({ id: "abc", step: "a" }, o), invalid("id"));
  add("SkipStep, id that is not a UUID", "SkipStep", (c, _f, o) => c.skipStep({ id: "abc", step: "a" }, o), invalid("id"));

  const notFound: Expectation = { code: Code.NotFound };
  add("GetSaga, unknown saga", "GetSaga", (c, _f, o) => c.getSaga({ id: UNKNOWN_ID }, o), notFound);
  add("WatchSaga, unknown saga", "WatchSaga", (c, _f, o) => drain(c.watchSaga({ id: UNKNOWN_ID }, o)), notFound);
  add("DeleteSaga, unknown saga", "DeleteSaga", (c, _f, o) => c.deleteSaga({ id: UNKNOWN_ID }, o), notFound);
  add("RetrySaga, unknown saga", "RetrySaga", (c, _f, o) => c.retrySaga({ id: UNKNOWN_ID }, o), notFound);
  add("CancelSaga, unknown saga", "CancelSaga", (c, _f, o) => c.cancelSaga({ id: UNKNOWN_ID }, o), notFound);
  add("RetryStep, unknown step", "RetryStep", (c, f, o) => c.retryStep({ id: f.failed.id, step: "ghost" }, o), notFound);
  add("RetryStep, unknown step with a config", "RetryStep", (c, f, o) => c.retryStep({ id: f.failed.id, step: "ghost", config: { a: 1 } }, o), notFound);
  add("SkipStep, unknown step", "SkipStep", (c, f, o) => c.skipStep({ id: f.failed.id, step: "ghost" }, o), notFound);

  const precondition: Expectation = { code: Code.FailedPrecondition };
  add("RetrySaga on a COMPLETED saga", "RetrySaga", (c, f, o) => c.retrySaga({ id: f.completed.id }, o), { ...precondition, message: "COMPLETED" });
  add("RollbackSaga on a COMPLETED saga", "RollbackSaga", (c, f, o) => c.rollbackSaga({ id: f.completed.id }, o), precondition);
  add("CancelSaga on a COMPLETED saga", "CancelSaga", (c, f, o) => c.cancelSaga({ id: f.completed.id }, o), precondition);
  add("RetryStep on a COMPLETED saga", "RetryStep", (c, f, o) => c.retryStep({ id: f.completed.id, step: "a" }, o), precondition);
  add("SkipStep on a COMPLETED saga", "SkipStep", (c, f, o) => c.skipStep({ id: f.completed.id, step: "a" }, o), precondition);
  add("RetryStep of a PENDING step", "RetryStep", (c, f, o) => c.retryStep({ id: f.failed.id, step: "b" }, o), { ...precondition, message: "PENDING" });
  add("DeleteSaga of a FAILED saga without force", "DeleteSaga", (c, f, o) => c.deleteSaga({ id: f.failed.id }, o), { ...precondition, message: "force" });

  add("CancelSaga, reason of 1,001 characters", "CancelSaga", (c, f, o) => c.cancelSaga({ id: f.failed.id, reason: chars(1001) }, o), invalid("reason"));
  add("RetryStep, empty step", "RetryStep", (c, f, o) => c.retryStep({ id: f.failed.id, step: "" }, o), invalid("step"));
  add("SkipStep, step of 65 characters", "SkipStep", (c, f, o) => c.skipStep({ id: f.failed.id, step: chars(65) }, o), invalid("step"));
  add("RetryStep, config nested 40 deep", "RetryStep", (c, f, o) => c.retryStep({ id: f.failed.id, step: "a", config: nested(40) as never }, o), invalid("config"));
  add(
    "RetryStep, config reading a downstream step",
    "RetryStep",
    (c, f, o) => c.retryStep({ id: f.failed.id, step: "a", config: { url: "{{steps.b.output.x}}" } }, o),
    invalid("config.url", "not upstream"),
  );
  add("SkipStep, output nested 40 deep", "SkipStep", (c, f, o) => c.skipStep({ id: f.failed.id, step: "a", output: nested(40) as never }, o), invalid("output"));
  add("SkipStep, output nested 100 deep", "SkipStep", (c, f, o) => c.skipStep({ id: f.failed.id, step: "a", output: nested(100) as never }, o), DECODER_REFUSAL);
  add("SkipStep, NaN in output", "SkipStep", (c, f, o) => c.skipStep({ id: f.failed.id, step: "a", output: { x: Number.NaN } }, o), invalid("output"));
  add("SkipStep, output of 10 MB", "SkipStep", (c, f, o) => c.skipStep({ id: f.failed.id, step: "a", output: { x: chars(10 << 20) } }, o), invalid("output"));

  add("WatchSaga, after_sequence -1", "WatchSaga", (c, f, o) => drain(c.watchSaga({ id: f.completed.id, afterSequence: -1n }, o)), invalid("after_sequence"));
  add(
    "WatchSaga, after_sequence beyond the latest event",
    "WatchSaga",
    (c, f, o) => drain(c.watchSaga({ id: f.completed.id, afterSequence: f.completed.sequence + 1000n }, o)),
    { code: Code.OutOfRange, field: "after_sequence" },
  );

  add("ListSagas, page_size -1", "ListSagas", (c, _f, o) => c.listSagas({ pageSize: -1 }, o), invalid("page_size"));
  add("ListSagas, page_size 2^31-1 (clamped)", "ListSagas", async (c, _f, o) => {
    const page = await c.listSagas({ pageSize: 2 ** 31 - 1 }, o);
    if (page.sagas.length > 1000) throw new Error(`page of ${page.sagas.length} sagas`);
  }, { code: "OK" });
  add("ListSagas, status 99 (unknown enum)", "ListSagas", (c, _f, o) => c.listSagas({ status: 99 as SagaStatus }, o), invalid("status"));
  const badToken = (label: string, pageToken: string, message?: string) =>
    add(`ListSagas, page_token ${label}`, "ListSagas", (c, _f, o) => c.listSagas({ pageToken }, o), invalid("page_token", message));
  badToken("of punctuation", "!!!***");
  badToken("of 1 MB", chars(1 << 20, "A"));
  badToken("encoding null", token(null));
  badToken("encoding a number", token(42));
  badToken("with SQL in the cursor", token({ ...cursor, c: "2024-01-01'; DROP TABLE sagas; --" }));
  badToken("with an invalid timestamp", token({ ...cursor, c: "2024-13-45T99:99:99.000000Z" }));
  badToken("on February 30", token({ ...cursor, c: "2024-02-30T00:00:00.000000Z" }));
  badToken("in year 0", token({ ...cursor, c: "0000-01-01T00:00:00.000000Z" }));
  badToken("with an uppercase id", token({ ...cursor, i: "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa".toUpperCase() }));
  badToken("issued for other filters", token({ ...cursor, f: "AAAAAAAAAAAA" }), "other filters");
  return cases;
}

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream) {
    // read to the end (or the error)
  }
}
