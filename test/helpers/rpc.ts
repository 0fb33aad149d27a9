import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { expect } from "vitest";
import type {
  CreateSagaRequestSchema,
  ListSagasRequestSchema,
  SagaClient,
  SagaEvent,
  StepSpecSchema,
  WatchSagaRequestSchema,
  WatchSagaResponse,
} from "../../src/client/index.js";
import { watchedEvents } from "../../src/client/index.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../src/gen/google/rpc/error_details_pb.js";

/** The transports API tests run over; gRPC-Web is covered by the HTTP server tests. */
export const PROTOCOLS = ["grpc", "connect"] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** Request shapes as the generated client accepts them (plain objects, every field optional). */
export type CreateSagaInit = MessageInitShape<typeof CreateSagaRequestSchema>;
export type StepSpecInit = MessageInitShape<typeof StepSpecSchema>;
export type ListSagasInit = MessageInitShape<typeof ListSagasRequestSchema>;
export type WatchSagaInit = MessageInitShape<typeof WatchSagaRequestSchema>;

/** A Duration literal for retry policies: `ms(10)`. */
export function ms(n: number) {
  return { seconds: BigInt(Math.floor(n / 1000)), nanos: (n % 1000) * 1_000_000 };
}

/** A retry policy that fails for good after one attempt. */
export const ONE_ATTEMPT = { maxAttempts: 1 };

/**
 * Awaits `promise`, expects it to reject with a ConnectError of `code`, and returns the error so
 * the caller can look at its message and details.
 */
export async function expectCode(promise: Promise<unknown>, code: Code): Promise<ConnectError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  if (caught === undefined) throw new Error(`expected ${Code[code]}, but the call succeeded`);
  const err = ConnectError.from(caught);
  expect(Code[err.code], `code of ${JSON.stringify(err.rawMessage)}`).toBe(Code[code]);
  return err;
}

/** The ErrorInfo detail (reason, domain, metadata) of an error; fails if there is none. */
export function errorInfo(err: ConnectError) {
  const infos = err.findDetails(ErrorInfoSchema);
  expect(infos, "ErrorInfo details").toHaveLength(1);
  return infos[0]!;
}

/** Field paths of the BadRequest detail's violations (empty if there is none). */
export function violationFields(err: ConnectError): string[] {
  return err.findDetails(BadRequestSchema).flatMap((b) => b.fieldViolations.map((v) => v.field));
}

/** Reads a whole WatchSaga stream (it must end by itself). */
export async function collectWatch(client: SagaClient, req: WatchSagaInit, signal?: AbortSignal): Promise<WatchSagaResponse[]> {
  const out: WatchSagaResponse[] = [];
  for await (const msg of client.watchSaga(req, { signal })) out.push(msg);
  return out;
}

/** The events of a stream's messages, in order, whether sent one by one or in batches. */
export function eventsOf(messages: WatchSagaResponse[]): SagaEvent[] {
  return messages.flatMap(watchedEvents);
}

/** Asserts the sequences run from `first` upward by exactly one each. */
export function expectConsecutive(events: SagaEvent[], first: bigint): void {
  expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => first + BigInt(i)));
}

/** Runs `fn` over `items` with at most `limit` in flight, keeping the results in order. */
export async function mapConcurrent<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
