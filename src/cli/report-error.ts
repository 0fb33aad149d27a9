import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema } from "../gen/google/rpc/error_details_pb.js";
import { CliError, EXIT, exitCodeForConnectCode, type ExitCode } from "./exit-codes.js";

/** Turns a field path from the server into `file:line:col` when the request came from a file. */
export type Locator = (fieldPath: string) => string | undefined;

/**
 * Lines for stderr and the exit code of an error: the Connect code by its canonical name, the
 * message, then every field violation on its own line (prefixed with where it is in the file,
 * when there is a file). Anything unexpected is still one line, never a stack trace.
 */
export function describeError(err: unknown, url: string, locate?: Locator): { lines: string[]; code: ExitCode } {
  if (err instanceof CliError) return { lines: [`sagad: ${err.message}`, ...err.details.map((d) => `  ${d}`)], code: err.code };
  if (err instanceof ConnectError) {
    const codeName = codeToName(err.code);
    if (err.code === Code.Unavailable && isConnectionFailure(err)) {
      return { lines: [`sagad: ${codeName}: cannot reach sagad at ${url}: ${err.rawMessage}`, "  is it running? (--url or SAGAD_URL)"], code: EXIT.UNAVAILABLE };
    }
    const notSagad = notSagadAnswer(err);
    if (notSagad !== undefined) {
      return { lines: [`sagad: cannot talk to sagad at ${url}: ${notSagad}`, "  is it a sagad, with the right http:// or https://? (--url or SAGAD_URL)"], code: EXIT.UNAVAILABLE };
    }
    const lines = [`sagad: ${codeName}: ${err.rawMessage}`];
    for (const badRequest of err.findDetails(BadRequestSchema)) {
      for (const v of badRequest.fieldViolations) {
        const where = locate?.(v.field);
        if (where === undefined && `${v.field}: ${v.description}` === err.rawMessage) continue;
        lines.push(`  ${where ? `${where}: ` : ""}${v.field}: ${v.description}`);
      }
    }
    return { lines, code: exitCodeForConnectCode(err.code) };
  }
  return { lines: [`sagad: ${(err as Error).message ?? String(err)}`], code: EXIT.ERROR };
}

/** `FAILED_PRECONDITION`, as the gRPC and Connect docs spell codes. */
export function codeToName(code: Code): string {
  return (Code[code] ?? "UNKNOWN").replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/**
 * What went wrong when the URL answers but is not a sagad speaking its protocol (an HTTP/1 server,
 * TLS against plain HTTP, a path after the port), or undefined for a real answer from sagad.
 */
function notSagadAnswer(err: ConnectError): string | undefined {
  const text = `${err.rawMessage} ${String(err.cause)}`;
  if (err.code === Code.Internal && /wrong version number|ERR_SSL|EPROTO/i.test(text)) return "the TLS handshake failed (is it http://?)";
  if (err.code === Code.Internal && /Protocol error|ERR_HTTP2/i.test(text)) return "it does not speak HTTP/2 (not a sagad?)";
  if (err.code === Code.Unimplemented && /HTTP 404/.test(err.rawMessage)) return "no sagad API there (HTTP 404; a path after the port?)";
  return undefined;
}

function isConnectionFailure(err: ConnectError): boolean {
  return /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ECONNRESET|EAI_AGAIN|socket hang up|ETIMEDOUT/i.test(`${err.rawMessage} ${String(err.cause)}`);
}
