import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { MessageInitShape } from "@bufbuild/protobuf";
import ms from "ms";
import { ListSagasRequestSchema, SagaStatus, type Saga } from "../client/index.js";
import type { CliContext } from "./context.js";
import { CliError, EXIT } from "./exit-codes.js";
import { parseDefinitionRef, parsePairs } from "./vars.js";

/** The filter flags `saga list` and the bulk operations share. */
export interface SagaFilterOptions {
  readonly status?: string;
  readonly def?: string;
  readonly label?: string[];
  readonly since?: string;
  readonly limit?: number;
  readonly all?: boolean;
}

/** `failed,running` → the statuses; each name may be given in any case, with or without prefix. */
export function parseStatuses(text: string | undefined): SagaStatus[] {
  if (text === undefined || text.trim() === "") return [];
  return text.split(",").map((raw) => {
    const name = raw.trim().toUpperCase().replace(/^SAGA_STATUS_/, "").replace(/-/g, "_");
    const status = SagaStatus[name as keyof typeof SagaStatus];
    if (status === undefined || status === SagaStatus.UNSPECIFIED) {
      const known = Object.keys(SagaStatus).filter((k) => Number.isNaN(Number(k)) && k !== "UNSPECIFIED").map((k) => k.toLowerCase());
      throw new CliError(`--status "${raw}": not a saga status (one of ${known.join(", ")})`, EXIT.USAGE);
    }
    return status;
  });
}

/** `--since 1h` (or `30m`, `2d`, or an ISO time) → the instant sagas must be created after. */
export function parseSince(text: string | undefined, now = Date.now()): number | undefined {
  if (text === undefined) return undefined;
  const span = ms(text as ms.StringValue) as number | undefined;
  if (typeof span === "number" && Number.isFinite(span) && span > 0) return now - span;
  const instant = Date.parse(text);
  if (!Number.isNaN(instant)) return instant;
  throw new CliError(`--since "${text}": expected a duration such as 90s, 30m, 1h, 2d, or an ISO time`, EXIT.USAGE);
}

/**
 * Lists the sagas the filters match, newest first, following pages until `limit` (default 50)
 * or the end with `all`; `more` tells whether the limit left matches out. ListSagas takes one
 * status per call, so several statuses are one list per status, merged by creation time.
 */
export async function findSagas(ctx: CliContext, options: SagaFilterOptions): Promise<{ sagas: Saga[]; more: boolean }> {
  if (options.all === true && options.limit !== undefined) throw new CliError("give --limit N or --all, not both", EXIT.USAGE);
  const limit = options.all === true ? Number.POSITIVE_INFINITY : options.limit ?? 50;
  let more = false;
  const statuses = parseStatuses(options.status);
  const base = baseRequest(options);
  const lists = await Promise.all((statuses.length === 0 ? [SagaStatus.UNSPECIFIED] : statuses).map(async (status) => {
    const found: Saga[] = [];
    let pageToken = "";
    do {
      const pageSize = Math.min(1000, Number.isFinite(limit) ? limit - found.length : 1000);
      const page = await ctx.sagas().listSagas({ ...base, status, pageSize, pageToken });
      found.push(...page.sagas);
      pageToken = page.nextPageToken;
    } while (pageToken !== "" && found.length < limit);
    if (pageToken !== "") more = true;
    return found;
  }));
  const merged = lists.flat().sort((a, b) => compareNewestFirst(a, b));
  if (merged.length > limit) more = true;
  return { sagas: Number.isFinite(limit) ? merged.slice(0, limit) : merged, more };
}

function baseRequest(options: SagaFilterOptions): MessageInitShape<typeof ListSagasRequestSchema> {
  const request: MessageInitShape<typeof ListSagasRequestSchema> = { labels: parsePairs("--label", options.label ?? []) };
  if (options.def !== undefined) {
    const ref = parseDefinitionRef(options.def);
    request.definitionName = ref.name;
    request.definitionVersion = ref.version;
  }
  const since = parseSince(options.since);
  if (since !== undefined) request.createdAfter = timestampFromMs(since);
  return request;
}

function compareNewestFirst(a: Saga, b: Saga): number {
  const at = (s: Saga) => Number(s.createTime?.seconds ?? 0n) * 1000 + (s.createTime?.nanos ?? 0) / 1e6;
  return at(b) - at(a) || (a.id < b.id ? 1 : -1);
}

/** commander parser for `--limit`. */
export function parseLimit(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`--limit "${text}": expected a positive integer`, EXIT.USAGE);
  return n;
}
