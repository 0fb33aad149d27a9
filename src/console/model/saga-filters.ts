import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { SagaStatus, type ListSagasRequestSchema } from "../../gen/saga/v1/saga_pb.js";

/**
 * The Sagas page's state lives in its URL query, so a filtered list can be shared, reloaded and
 * walked with back/forward. The query holds the filters as the operator typed them; this module
 * turns them into exactly the ListSagasRequest the API takes (it has no other filters), and says
 * which filter is wrong when one cannot be read.
 */

/** The filter controls, named as the form controls and the URL query keys are. */
export const FILTER_KEYS = ["status", "name", "definition", "labels", "since", "until"] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];

/** Each filter as text, "" when unset. */
export type SagaFilters = Readonly<Record<FilterKey, string>>;

export const NO_FILTERS: SagaFilters = { status: "", name: "", definition: "", labels: "", since: "", until: "" };

/**
 * What the list shows: the filters, the page tokens walked to reach this page (empty on the
 * first page; the last one is this page's token), and the instant relative times ("1h") are
 * counted back from once paging started. Page tokens belong to one exact filter (the server
 * hashes it), so a moving "last hour" window is pinned while paging and live on the first page.
 */
export interface SagaListView {
  readonly filters: SagaFilters;
  readonly pages: readonly string[];
  readonly at?: number;
}

/** Page size of the list; the server's default, small enough to poll every two seconds. */
export const PAGE_SIZE = 50;

/** Saga statuses an operator can filter on, in lifecycle order. */
export const FILTERABLE_STATUSES: readonly SagaStatus[] = [
  SagaStatus.PENDING,
  SagaStatus.RUNNING,
  SagaStatus.FAILED,
  SagaStatus.COMPLETED,
  SagaStatus.COMPENSATING,
  SagaStatus.COMPENSATED,
  SagaStatus.COMPENSATION_FAILED,
  SagaStatus.CANCELLING,
  SagaStatus.CANCELLED,
];

/** List page tokens are base64url; anything else in the URL was not made by sagad. */
const TOKEN = /^[A-Za-z0-9_-]+$/;

/** Reads the page's state from the URL query (unknown keys are ignored). */
export function viewFromQuery(query: Readonly<Record<string, string | undefined>>): SagaListView {
  const filters = Object.fromEntries(FILTER_KEYS.map((key) => [key, (query[key] ?? "").trim()])) as Record<FilterKey, string>;
  const pages = (query.pages ?? "").split(".").filter((token) => TOKEN.test(token));
  const at = Number(query.at);
  return pages.length > 0 && Number.isSafeInteger(at) && at > 0 ? { filters, pages, at } : { filters, pages };
}

/** The URL query for a view ("" when nothing is set), filters in a fixed order. */
export function queryFromView(view: SagaListView): string {
  const params = new URLSearchParams();
  for (const key of FILTER_KEYS) if (view.filters[key] !== "") params.set(key, view.filters[key]);
  if (view.pages.length > 0) {
    params.set("pages", view.pages.join("."));
    if (view.at !== undefined) params.set("at", String(view.at));
  }
  const text = params.toString();
  return text === "" ? "" : `?${text}`;
}

/** New filters start again from the first, live page. */
export function withFilters(filters: SagaFilters): SagaListView {
  return { filters, pages: [] };
}

/** The next (older) page; `at` is the instant the current page's request counted back from. */
export function olderView(view: SagaListView, nextPageToken: string, at: number): SagaListView {
  return { filters: view.filters, pages: [...view.pages, nextPageToken], at: view.at ?? at };
}

/** The previous (newer) page; back on the first page, relative times follow the clock again. */
export function newerView(view: SagaListView): SagaListView {
  const pages = view.pages.slice(0, -1);
  return pages.length > 0 && view.at !== undefined ? { filters: view.filters, pages, at: view.at } : { filters: view.filters, pages };
}

export function hasFilters(filters: SagaFilters): boolean {
  return FILTER_KEYS.some((key) => filters[key] !== "");
}

export type ListRequest = MessageInitShape<typeof ListSagasRequestSchema>;

/** A request, or what keeps the filters from being one, by control name. */
export type RequestResult =
  | { readonly ok: true; readonly request: ListRequest; readonly at: number }
  | { readonly ok: false; readonly errors: ReadonlyMap<FilterKey, string> };

/**
 * The ListSagasRequest for a view. Relative times count back from `view.at` when paging, else from
 * `now`; the returned `at` is that instant, for {@link olderView}.
 */
export function listRequest(view: SagaListView, now: number): RequestResult {
  const at = view.at ?? now;
  const errors = new Map<FilterKey, string>();
  const { filters } = view;
  const request: ListRequest = { pageSize: PAGE_SIZE, pageToken: view.pages[view.pages.length - 1] ?? "" };

  if (filters.name !== "") request.name = filters.name;
  if (filters.status !== "") {
    const status = parseStatus(filters.status);
    if (status === undefined) errors.set("status", `"${filters.status}" is not a saga status`);
    else request.status = status;
  }
  if (filters.definition !== "") {
    const ref = parseDefinitionRef(filters.definition);
    if (typeof ref === "string") errors.set("definition", ref);
    else {
      request.definitionName = ref.name;
      request.definitionVersion = ref.version;
    }
  }
  if (filters.labels !== "") {
    const labels = parseLabels(filters.labels);
    if (typeof labels === "string") errors.set("labels", labels);
    else request.labels = labels;
  }
  const since = filters.since === "" ? undefined : parseInstant(filters.since, at);
  const until = filters.until === "" ? undefined : parseInstant(filters.until, at);
  if (since === null) errors.set("since", TIME_HINT);
  if (until === null) errors.set("until", TIME_HINT);
  if (typeof since === "number") request.createdAfter = timestampFromMs(since);
  if (typeof until === "number") request.createdBefore = timestampFromMs(until);
  if (typeof since === "number" && typeof until === "number" && until <= since) errors.set("until", "must be later than since");

  return errors.size > 0 ? { ok: false, errors } : { ok: true, request, at };
}

/** `failed`, `FAILED` or `SAGA_STATUS_FAILED` → the status. */
export function parseStatus(text: string): SagaStatus | undefined {
  const name = text.trim().toUpperCase().replace(/^SAGA_STATUS_/, "");
  const status = (SagaStatus as unknown as Record<string, SagaStatus | undefined>)[name];
  return typeof status === "number" && status !== SagaStatus.UNSPECIFIED ? status : undefined;
}

/** `checkout@3` → version 3; `checkout` → any version (0). A message when it cannot be read. */
export function parseDefinitionRef(text: string): { name: string; version: number } | string {
  const at = text.lastIndexOf("@");
  if (at < 0) return { name: text, version: 0 };
  const name = text.slice(0, at).trim();
  const version = Number(text.slice(at + 1));
  if (name === "") return "expected NAME or NAME@VERSION";
  if (!/^\d+$/.test(text.slice(at + 1).trim()) || !Number.isSafeInteger(version) || version < 1) {
    return "the version after @ must be a positive whole number";
  }
  return { name, version };
}

/**
 * `team=shop, env=dev` → the labels (a later key wins); a message naming the pair that is not
 * KEY=VALUE. Values cannot hold commas here, which label filters in practice never need.
 */
export function parseLabels(text: string): Record<string, string> | string {
  const labels: Record<string, string> = {};
  for (const raw of text.split(",")) {
    const pair = raw.trim();
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    if (eq <= 0) return `"${pair}": expected KEY=VALUE`;
    labels[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return labels;
}

const TIME_HINT = "expected a duration (30m, 1h, 2d) or a date and time (2026-12-07 14:30)";

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * `90s`, `30m`, `1h`, `2d`, `1w` count back from `now`; otherwise a date (local midnight), a local
 * date and time (`2026-12-07 14:30`, or the `T` form a datetime-local control gives), or an ISO
 * time with its offset. null when it is none of these.
 */
export function parseInstant(text: string, now: number): number | null {
  const trimmed = text.trim();
  const span = /^(\d+(?:\.\d+)?)\s*([smhdw])$/i.exec(trimmed);
  if (span) return now - Number(span[1]) * UNIT_MS[span[2]!.toLowerCase()]!;
  let iso = trimmed;
  if (/^\d{4}-\d\d-\d\d$/.test(iso)) iso += "T00:00"; // a bare date would be read as UTC midnight
  iso = iso.replace(/^(\d{4}-\d\d-\d\d) (\d)/, "$1T$2");
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(iso)) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}
