// The broker's error details, typed: google.rpc.ErrorInfo and RetryInfo
// decoded from the gRPC status (grpc-status-details-bin) with the
// generated google/rpc types.
import { ConnectError, Code } from "@connectrpc/connect";
import { type ErrorInfo, ErrorInfoSchema, type RetryInfo, RetryInfoSchema } from "./gen/google/rpc/error_details_pb";
import { ErrorReason } from "./gen/keybroker/v1/keybroker_pb";

export { Code, ConnectError, ErrorReason };
export type { ErrorInfo, RetryInfo };

/** DOMAIN is the ErrorInfo domain of the broker's own reasons. */
export const DOMAIN = "keybroker";

/**
 * errorInfo returns the broker's google.rpc.ErrorInfo (domain "keybroker")
 * carried by a call's error, or undefined. It sees through errors that
 * wrap a ConnectError in `cause`, such as leasedFetch's.
 */
export function errorInfo(err: unknown): ErrorInfo | undefined {
  const ce = connectError(err);
  return ce?.findDetails(ErrorInfoSchema).find((d) => d.domain === DOMAIN);
}

/**
 * errorReason returns ErrorInfo.reason ("POOL_EMPTY", "NO_HEALTHY_KEY",
 * "LEASE_UNKNOWN", ...), or "" when the error carries none.
 */
export function errorReason(err: unknown): string {
  return errorInfo(err)?.reason ?? "";
}

/**
 * reason returns the broker's reason as the API's ErrorReason enum
 * (ErrorReason.POOL_EMPTY, ...), so that callers branch on declared values.
 * ErrorInfo.reason is the value's proto name without "ERROR_REASON_", which
 * is also the TypeScript member's name. It is ErrorReason.UNSPECIFIED when
 * the error carries no keybroker ErrorInfo or a reason this client does
 * not know (a newer broker's): act on the gRPC code then.
 */
export function reason(err: unknown): ErrorReason {
  const r = errorReason(err);
  const v = r && r !== "UNSPECIFIED" ? (ErrorReason as unknown as Record<string, unknown>)[r] : undefined;
  return typeof v === "number" ? (v as ErrorReason) : ErrorReason.UNSPECIFIED;
}

/** retryInfo returns the google.rpc.RetryInfo of a call's error, or undefined. */
export function retryInfo(err: unknown): RetryInfo | undefined {
  return connectError(err)?.findDetails(RetryInfoSchema)[0];
}

/**
 * retryDelayMs returns how long the broker asked the caller to wait before
 * trying again (RetryInfo.retry_delay), in milliseconds, or 0 when it did
 * not say.
 */
export function retryDelayMs(err: unknown): number {
  const d = retryInfo(err)?.retryDelay;
  if (!d) return 0;
  return Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6);
}

/** connectError finds the ConnectError in err or its causes. */
export function connectError(err: unknown): ConnectError | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 8; depth++) {
    if (e instanceof ConnectError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
