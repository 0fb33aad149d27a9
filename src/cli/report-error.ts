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

function isConnectionFailure(err: ConnectError): boolean {
  return /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ECONNRESET|EAI_AGAIN|socket hang up|ETIMEDOUT/i.test(`${err.rawMessage} ${String(err.cause)}`);
}
