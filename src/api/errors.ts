import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { DomainError, type DomainErrorReason } from "../domain/errors.js";
import { isTransientPgError } from "../store/pool.js";
import { BadRequestSchema, BadRequest_FieldViolationSchema, ErrorInfoSchema } from "../gen/google/rpc/error_details_pb.js";

/** The error domain in google.rpc.ErrorInfo, so clients can tell our reasons from others'. */
export const ERROR_DOMAIN = "sagad.saga.v1";

const CODES: Readonly<Record<DomainErrorReason, Code>> = {
  INVALID_ARGUMENT: Code.InvalidArgument,
  NOT_FOUND: Code.NotFound,
  ALREADY_EXISTS: Code.AlreadyExists,
  FAILED_PRECONDITION: Code.FailedPrecondition,
  RETRY_LIMIT_REACHED: Code.FailedPrecondition,
  OUT_OF_RANGE: Code.OutOfRange,
  UNAVAILABLE: Code.Unavailable,
  UNAUTHENTICATED: Code.Unauthenticated,
  PERMISSION_DENIED: Code.PermissionDenied,
  ABORTED: Code.Aborted,
  STALE_ATTEMPT: Code.FailedPrecondition,
};

/**
 * The one mapping from errors to Connect errors. Domain errors keep their message and get their
 * canonical code plus details (ErrorInfo with the stable reason, BadRequest with field
 * violations). A lost database connection is UNAVAILABLE, so clients retry. Anything else is an
 * internal error whose cause is logged, never sent.
 */
export function toConnectError(err: unknown, log: (err: unknown) => void): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof DomainError) {
    const details = [
      { desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason: err.reason, domain: ERROR_DOMAIN, metadata: { ...err.metadata } }) },
    ];
    const result = new ConnectError(err.message, CODES[err.reason], undefined, details);
    if (err.violations.length > 0) {
      result.details.push({
        desc: BadRequestSchema,
        value: create(BadRequestSchema, {
          fieldViolations: err.violations.map((v) => create(BadRequest_FieldViolationSchema, v)),
        }),
      });
    }
    return result;
  }
  if (isTransientPgError(err)) {
    // The outcome may be unknown (the connection dropped mid-commit): retry, with request_id for creates.
    return new ConnectError("the database is unavailable; retry", Code.Unavailable);
  }
  log(err);
  return new ConnectError("internal error", Code.Internal);
}
