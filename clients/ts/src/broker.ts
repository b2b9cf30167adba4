// KeyBroker: the generated Connect client over gRPC (HTTP/2), with a
// default deadline, a bearer token, and retries of UNAVAILABLE that honour
// the broker's RetryInfo, as the Go client does.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  KeyBrokerService,
  ReportFailureRequestSchema,
  type AddResponse,
  type GetRandomResponse,
  type ReportFailureRequest,
  type ReportFailureResponse,
} from "./gen/keybroker/v1/keybroker_pb";
import { retryDelayMs } from "./errors";
import type { MessageInitShape } from "@bufbuild/protobuf";

/** RetryPolicy says how calls failing with UNAVAILABLE are retried. */
export interface RetryPolicy {
  /** maxAttempts is how many times a call is tried in all; 1 turns retries off. */
  maxAttempts: number;
  /** initialBackoffMs is the first wait; each further one up to twice as long, jittered. */
  initialBackoffMs: number;
  /**
   * maxBackoffMs caps one wait and bounds the broker's RetryInfo: a longer
   * requested wait (a pool cooling down for a minute) is returned at once.
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
  /** timeoutMs is the deadline of every call, retries included (default 5000). */
  timeoutMs?: number;
  /** retry replaces defaultRetryPolicy. */
  retry?: RetryPolicy;
}

/** KeyBroker calls a keybroker. Make one per broker and share it. */
export class KeyBroker {
  /** stub is the generated client, for the RPCs the methods below do not cover. */
  readonly stub: Client<typeof KeyBrokerService>;

  constructor(opts: KeyBrokerOptions) {
    const interceptors: Interceptor[] = [retryInterceptor(opts.retry ?? defaultRetryPolicy)];
    if (opts.token) interceptors.unshift(bearer(opts.token));
    const transport = createGrpcTransport({
      baseUrl: /^https?:\/\//.test(opts.address) ? opts.address : `http://${opts.address}`,
      defaultTimeoutMs: opts.timeoutMs ?? 5000,
      interceptors,
    });
    this.stub = createClient(KeyBrokerService, transport);
  }

  /** getRandom leases one active key of pool. */
  getRandom(pool: string): Promise<GetRandomResponse> {
    return this.stub.getRandom({ pool });
  }

  /** add puts secrets into pool, idempotently. */
  add(pool: string, secrets: string[]): Promise<AddResponse> {
    return this.stub.add({ pool, secrets });
  }

  /** reportFailure tells the broker what the provider said when it refused a leased key. */
  reportFailure(req: MessageInitShape<typeof ReportFailureRequestSchema>): Promise<ReportFailureResponse> {
    return this.stub.reportFailure(create(ReportFailureRequestSchema, req) as ReportFailureRequest);
  }
}

function bearer(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}

// retryInterceptor retries UNAVAILABLE: waits what RetryInfo asks (if no
// more than maxBackoffMs) or a jittered backoff, never past the deadline.
function retryInterceptor(p: RetryPolicy): Interceptor {
  return (next) => async (req) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await next(req);
      } catch (err) {
        if (!(err instanceof ConnectError) || err.code !== Code.Unavailable || attempt >= p.maxAttempts) throw err;
        const asked = retryDelayMs(err);
        if (asked > p.maxBackoffMs) throw err;
        const wait = asked > 0 ? asked : Math.random() * Math.min(p.initialBackoffMs * 2 ** (attempt - 1), p.maxBackoffMs);
        if (!(await sleep(wait, req.signal))) throw err;
      }
    }
  };
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
