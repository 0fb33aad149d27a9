import { timestampMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { SagaStatus } from "../../src/gen/saga/v1/saga_pb.js";
import {
  NO_FILTERS,
  listRequest,
  newerView,
  olderView,
  parseInstant,
  parseLabels,
  queryFromView,
  viewFromQuery,
  withFilters,
  type ListRequest,
  type SagaListView,
} from "../../src/console/model/saga-filters.js";

const NOW = Date.parse("2026-12-07T12:00:00Z");

function requestOf(view: SagaListView, now = NOW): ListRequest {
  const result = listRequest(view, now);
  if (!result.ok) throw new Error(`unexpected errors: ${[...result.errors].join("; ")}`);
  return result.request;
}

function errorsOf(view: SagaListView): Map<string, string> {
  const result = listRequest(view, NOW);
  if (result.ok) throw new Error("expected errors");
  return new Map(result.errors);
}

describe("saga list filters <-> URL query", () => {
  it("reads every filter from the query and writes it back in a fixed order", () => {
    const query = { until: "2026-12-07 11:00", labels: "team=shop", status: "FAILED", name: "checkout", definition: "order-checkout@2", since: "1h", other: "ignored" };
    const view = viewFromQuery(query);
    expect(view.filters).toEqual({ status: "FAILED", name: "checkout", definition: "order-checkout@2", labels: "team=shop", since: "1h", until: "2026-12-07 11:00" });
    expect(queryFromView(view)).toBe("?status=FAILED&name=checkout&definition=order-checkout%402&labels=team%3Dshop&since=1h&until=2026-12-07+11%3A00");
    expect(viewFromQuery(Object.fromEntries(new URLSearchParams(queryFromView(view))))).toEqual(view);
  });

  it("an unfiltered first page is the bare path", () => {
    expect(queryFromView(withFilters(NO_FILTERS))).toBe("");
    expect(viewFromQuery({})).toEqual({ filters: NO_FILTERS, pages: [] });
  });

  it("maps each filter to the ListSagasRequest field the API has", () => {
    const request = requestOf(viewFromQuery({ status: "failed", name: "checkout", definition: "order-checkout@2", labels: "team=shop, env = dev" }));
    expect(request).toMatchObject({
      status: SagaStatus.FAILED,
      name: "checkout",
      definitionName: "order-checkout",
      definitionVersion: 2,
      labels: { team: "shop", env: "dev" },
      pageSize: 50,
      pageToken: "",
    });
    expect(request.createdAfter).toBeUndefined();
  });

  it("a definition without @ means any of its versions", () => {
    expect(requestOf(viewFromQuery({ definition: "order-checkout" }))).toMatchObject({ definitionName: "order-checkout", definitionVersion: 0 });
  });

  it("names the filter that cannot be read, and sends no request", () => {
    const errors = errorsOf(viewFromQuery({ status: "BROKEN", definition: "x@v2", labels: "team", since: "yesterday-ish" }));
    expect([...errors.keys()].sort()).toEqual(["definition", "labels", "since", "status"]);
    expect(errors.get("labels")).toContain('"team"');
    expect(errors.get("status")).toContain("BROKEN");
  });

  it("refuses an until that is not after since", () => {
    expect(errorsOf(viewFromQuery({ since: "2026-12-07T10:00", until: "2026-12-07T09:00" })).get("until")).toBe("must be later than since");
  });
});

describe("time filters", () => {
  it("durations count back from now", () => {
    expect(parseInstant("1h", NOW)).toBe(NOW - 3_600_000);
    expect(parseInstant("30m", NOW)).toBe(NOW - 1_800_000);
    expect(parseInstant("2d", NOW)).toBe(NOW - 2 * 86_400_000);
    expect(parseInstant("90s", NOW)).toBe(NOW - 90_000);
  });

  it("dates and times without an offset are local; with one they are exact", () => {
    expect(parseInstant("2026-12-07 14:30", NOW)).toBe(new Date(2026, 11, 7, 14, 30).getTime());
    expect(parseInstant("2026-12-07T14:30", NOW)).toBe(new Date(2026, 11, 7, 14, 30).getTime());
    expect(parseInstant("2026-12-07", NOW)).toBe(new Date(2026, 11, 7).getTime());
    expect(parseInstant("2026-12-07T14:30:00Z", NOW)).toBe(Date.parse("2026-12-07T14:30:00Z"));
    expect(parseInstant("tuesday", NOW)).toBeNull();
    expect(parseInstant("12", NOW)).toBeNull();
  });

  it("since and until become created_after and created_before", () => {
    const request = requestOf(viewFromQuery({ since: "1h", until: "2026-12-07T11:30:00Z" }));
    expect(timestampMs(request.createdAfter as never)).toBe(NOW - 3_600_000);
    expect(timestampMs(request.createdBefore as never)).toBe(Date.parse("2026-12-07T11:30:00Z"));
  });
});

describe("cursor pagination", () => {
  const first = viewFromQuery({ status: "FAILED", since: "1h" });

  it("Older pushes the next token and pins the instant relative times count from", () => {
    const older = olderView(first, "tok1", NOW);
    expect(older).toEqual({ filters: first.filters, pages: ["tok1"], at: NOW });
    const oldest = olderView(older, "tok2", NOW + 5_000);
    expect(oldest.pages).toEqual(["tok1", "tok2"]);
    expect(oldest.at).toBe(NOW); // the tokens were issued for the window counted from NOW
    const request = requestOf(oldest, NOW + 60_000);
    expect(request.pageToken).toBe("tok2");
    expect(timestampMs(request.createdAfter as never)).toBe(NOW - 3_600_000);
  });

  it("Newer pops back, and the first page follows the clock again", () => {
    const two = olderView(olderView(first, "tok1", NOW), "tok2", NOW);
    expect(newerView(two)).toEqual({ filters: first.filters, pages: ["tok1"], at: NOW });
    const back = newerView(newerView(two));
    expect(back).toEqual({ filters: first.filters, pages: [] });
    expect(requestOf(back, NOW + 60_000).pageToken).toBe("");
    expect(timestampMs(requestOf(back, NOW + 60_000).createdAfter as never)).toBe(NOW + 60_000 - 3_600_000);
  });

  it("the token stack survives the URL, and tokens sagad never makes are dropped", () => {
    const view = olderView(olderView(first, "eyJjIjoi_-", NOW), "abc", NOW);
    const query = Object.fromEntries(new URLSearchParams(queryFromView(view)));
    expect(viewFromQuery(query)).toEqual(view);
    expect(viewFromQuery({ pages: "good.<script>.also_good", at: "5" }).pages).toEqual(["good", "also_good"]);
  });

  it("new filters start from the first page", () => {
    const deep = olderView(first, "tok1", NOW);
    expect(withFilters({ ...deep.filters, status: "RUNNING" })).toEqual({ filters: { ...first.filters, status: "RUNNING" }, pages: [] });
  });
});

describe("labels", () => {
  it("a later key wins, blanks are ignored, a value may hold =", () => {
    expect(parseLabels("a=1,,b=x=y, a=2")).toEqual({ a: "2", b: "x=y" });
    expect(parseLabels("=v")).toBe('"=v": expected KEY=VALUE');
  });
});
