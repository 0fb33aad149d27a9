import type { Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { toConnectError } from "./errors.js";

/**
 * Turns whatever a handler throws (also mid-stream) into a ConnectError through the one mapping
 * in errors.ts, so handlers can throw domain errors and never leak internals.
 */
export function errorInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const log = (err: unknown) => logger.error({ err, method: req.method.name }, "unexpected error in handler");
    try {
      const res = await next(req);
      if (!res.stream) return res;
      return { ...res, message: mapStreamErrors(res.message, log) };
    } catch (err) {
      throw toConnectError(err, log);
    }
  };
}

async function* mapStreamErrors<T>(stream: AsyncIterable<T>, log: (err: unknown) => void): AsyncIterable<T> {
  try {
    yield* stream;
  } catch (err) {
    throw toConnectError(err, log);
  }
}
