// KeyBroker: the generated Connect client over gRPC (HTTP/2), with a
// default deadline, a bearer token, and retries of UNAVAILABLE (and of
// RESOURCE_EXHAUSTED NO_BUDGET) that honour the broker's RetryInfo, as the
// Go client does.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  KeyBrokerService,
  ErrorReason,
  ReportFailureRequestSchema,
  ReportUsageRequestSchema,
  type AddResponse,
  type GetRandomResponse,
  type ReportFailureRequest,
  type ReportFailureResponse,
  type ReportUsageRequest,
  type ReportUsageResponse,
} from "./gen/keybroker/v1/keybroker_pb";
import { reason, retryDelayMs } from "./errors";
import type { MessageInitShape } from "@bufbuild/protobuf";

/**
 * RetryPolicy says how calls failing with UNAVAILABLE are retried, and
 * calls refused with RESOURCE_EXHAUSTED NO_BUDGET (every key spent its
 * rate-limit budget): those after exactly the broker's RetryInfo.
 */
export interface RetryPolicy {
  /** maxAttempts is how many times a call is tried in all; 1 turns retries off. */
  maxAttempts: number;
  /** initialBackoffMs is the first wait; each further one up to twice as long, jittered. */
  initialBackoffMs: number;
  /**
   * maxBackoffMs caps one wait and bounds the broker's RetryInfo: a longer
   * requested wait (a pool cooling down for a minute, a budget window
   * ending in 20s) is returned at once, so the caller decides.
   */
  maxBackoffMs: number;
}

/** defaultRetryPolicy: 4 tries, 50ms doubling, at most 1s per wait. */
export const defaultRetryPolicy: RetryPolicy = { maxAttempts: 4, initialBackoffMs: 50, maxBackoffMs: 1000 };

/** KeyBrokerOptions configures a KeyBroker. */
export interface KeyBrokerOptions {
  /**
   * address is the broker's URL: "http://127.0.0.1:50051" (plaintext h2c)
   * or https://...; a bare "host:port" means http://.
   */
  address: string;
  /** token, when set, is sent as "authorization: Bearer <token>". */
  token?: string;
  /**
   * timeoutMs is the deadline of every call, retries included (default
   * 5000; 0: none); a call's own timeoutMs or signal replaces it.
   */
  timeoutMs?: number;
  /** retry replaces defaultRetryPolicy. */
  retry?: RetryPolicy;
}

/** GetRandomOptions are what a lease asks of a budgeted pool. */
export interface GetRandomOptions {
  /** estimatedTokens is what the call will cost in provider tokens (prompt plus completion); 0 reserves none. */
  estimatedTokens?: number;
  /** uses is how many calls the lease is meant for (0 or unset: 1). */
  uses?: number;
  /**
   * timeoutMs is this call's deadline, retries included, in place of the
   * KeyBroker's (0: none).
   */
  timeoutMs?: number;
  /** signal ends the call, and any retry wait, when it aborts. */
  signal?: AbortSignal;
}

/** KeyBroker calls a keybroker. Make one per broker and share it. */
export class KeyBroker {
  /** stub is the generated client, for the RPCs the methods below do not cover. */
  readonly stub: Client<typeof KeyBrokerService>;

  constructor(opts: KeyBrokerOptions) {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const interceptors: Interceptor[] = [retryInterceptor(opts.retry ?? defaultRetryPolicy)];
    if (opts.token) interceptors.unshift(bearer(opts.token));
    const transport = createGrpcTransport({
      baseUrl: /^https?:\/\//.test(opts.address) ? opts.address : `http://${opts.address}`,
      defaultTimeoutMs: timeoutMs > 0 ? timeoutMs : undefined,
      interceptors,
    });
    this.stub = createClient(KeyBrokerService, transport);
  }

  /**
   * getRandom leases one active key of pool. On a pool with budgets,
   * estimatedTokens (what the call will cost in provider tokens) is
   * reserved from the key's token budget, and uses asks the lease to cover
   * that many calls: Lease.uses says how many it does, for
   * Lease.usesValidFor from when the request was sent. timeoutMs and
   * signal bound this call (a NO_BUDGET retry never waits past them).
   */
  getRandom(pool: string, opts: GetRandomOptions = {}): Promise<GetRandomResponse> {
    const tokens = Math.max(Math.floor(Number(opts.estimatedTokens ?? 0)), 0);
    return this.stub.getRandom(
      { pool, estimatedTokens: BigInt(Number.isFinite(tokens) ? tokens : 0), uses: opts.uses ?? 0 },
      { timeoutMs: opts.timeoutMs, signal: opts.signal },
    );
  }

  /** add puts secrets into pool, idempotently. */
  add(pool: string, secrets: string[]): Promise<AddResponse> {
    return this.stub.add({ pool, secrets });
  }

  /** reportFailure tells the broker what the provider said when it refused a leased key. */
  reportFailure(req: MessageInitShape<typeof ReportFailureRequestSchema>): Promise<ReportFailureResponse> {
    return this.stub.reportFailure(create(ReportFailureRequestSchema, req) as ReportFailureRequest);
  }

  /**
   * reportUsage sends what providers' rate-limit headers said about leased
   * keys (at most 1000 usages); leasedFetch does it in the background.
   */
  reportUsage(req: MessageInitShape<typeof ReportUsageRequestSchema>): Promise<ReportUsageResponse> {
    return this.stub.reportUsage(create(ReportUsageRequestSchema, req) as ReportUsageRequest);
  }
}

function bearer(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}

// retryInterceptor retries UNAVAILABLE and NO_BUDGET: waits what
// RetryInfo asks (if no more than maxBackoffMs) or a jittered backoff, and
// never when the wait would outlast the call's own deadline: then the
// caller gets the error at once. The deadline is what Connect put in the
// request's grpc-timeout (the call's timeoutMs option, else the
// KeyBroker's; none when 0), counted from the first attempt; an
// AbortSignal given to the call aborts req.signal, which ends a wait at
// once. A retry carries the time left in its grpc-timeout, so the broker
// never works past the caller's deadline either.
function retryInterceptor(p: RetryPolicy): Interceptor {
  return (next) => async (req) => {
    const timeoutMs = grpcTimeoutMs(req.header.get("grpc-timeout"));
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await next(req);
      } catch (err) {
        if (!retriable(err) || attempt >= p.maxAttempts || req.signal.aborted) throw err;
        const asked = retryDelayMs(err);
        if (asked > p.maxBackoffMs) throw err;
        const wait = asked > 0 ? asked : Math.random() * Math.min(p.initialBackoffMs * 2 ** (attempt - 1), p.maxBackoffMs);
        if (deadline !== undefined && Date.now() + wait >= deadline) throw err;
        if (!(await sleep(wait, req.signal))) throw err;
        if (deadline !== undefined) {
          const left = Math.ceil(deadline - Date.now());
          if (left <= 0) throw err;
          req.header.set("grpc-timeout", `${left}m`);
        }
      }
    }
  };
}

// grpcTimeoutMs reads a grpc-timeout header ("250m", "5S", ...) in
// milliseconds; undefined when there is none (or it does not parse).
function grpcTimeoutMs(v: string | null): number | undefined {
  const m = v ? /^(\d{1,8})([HMSmun])$/.exec(v) : null;
  if (!m) return undefined;
  const unit = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 }[m[2] as "H" | "M" | "S" | "m" | "u" | "n"];
  return Number(m[1]) * unit;
}

// retriable reports whether waiting may help: UNAVAILABLE, and a pool's
// keys out of budget (RESOURCE_EXHAUSTED NO_BUDGET), which says when they
// have budget again and is retried only then.
function retriable(err: unknown): err is ConnectError {
  if (!(err instanceof ConnectError)) return false;
  if (err.code === Code.Unavailable) return true;
  return err.code === Code.ResourceExhausted && reason(err) === ErrorReason.NO_BUDGET && retryDelayMs(err) > 0;
}

function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      resolve(false);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
