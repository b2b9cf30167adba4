// leasedFetch: a fetch that calls a provider with keys leased from a
// keybroker pool, with the manners of the Go client's Transport.
import { FailureKind, type GetRandomResponse } from "./gen/keybroker/v1/keybroker_pb";
import { type Auth, openAIAuth } from "./auth";
import type { KeyBroker } from "./broker";
import { parseProviderError } from "./providererror";
import { retryAfterMs } from "./ratelimit";
import { durationOf, usageOf, UsageReporter, type UsageStats } from "./usage";

/** LeasedFetchOptions configures leasedFetch. */
export interface LeasedFetchOptions {
  /** auth says how the key is presented (default openAIAuth: Authorization: Bearer). */
  auth?: Auth;
  /** fetch sends the requests (default globalThis.fetch). */
  fetch?: typeof fetch;
  /**
   * retryOnKeyFailure sends a request once more, with another key, when
   * the broker blames the refusal on the key. Never for 5xx, nor for a
   * request whose body is a stream (it cannot be replayed).
   */
  retryOnKeyFailure?: boolean;
  /**
   * leaseReuse keeps a leased key for further requests until its lease
   * expires (or for maxUses requests, when > 0); it is dropped at once when
   * the provider refuses it. On a budgeted pool it asks GetRandom to cover
   * maxUses calls (32 when unset or 0) and uses the lease at most as many
   * times as the broker granted (Lease.uses), never after
   * Lease.usesValidFor from when it asked.
   */
  leaseReuse?: { maxUses?: number };
  /**
   * usageReports (default true) reads the rate-limit headers of every
   * answer, successes included, and sends them to the broker in batches
   * (ReportUsage) in the background, for its budgets. A request never
   * waits for it; a full queue (4096) drops the observation and counts it
   * (usageStats). false turns it off: the broker then budgets the pool
   * only by the limits its policy declares.
   */
  usageReports?: boolean;
  /**
   * estimateTokens says what a request will cost in provider tokens
   * (prompt plus completion); GetRandom reserves it from the key's token
   * budget. undefined (or no estimateTokens) reserves none: the call is
   * then admitted while the key has any tokens left.
   */
  estimateTokens?(input: FetchInput, init?: RequestInit): number | undefined;
  /** maxErrorBody is how many bytes of a refusal's body are read to report it (default 64 KiB). */
  maxErrorBody?: number;
  /**
   * onReportError hears about reports the broker did not take (default:
   * ignored); keyId is "" for a failed batch of usage reports, which
   * usageStats also counts as failed.
   */
  onReportError?: (err: unknown, keyId: string) => void;
}

/**
 * LeasedFetch is the fetch leasedFetch returns, with its usage reports'
 * controls: flush sends the queued observations now; close flushes and
 * stops reporting (await it before a process exits to send the last
 * ones: the reporter's timers never keep Node.js alive); usageStats says
 * how many were sent, dropped and failed.
 */
export type LeasedFetch = typeof fetch & UsageControls;

/** UsageControls are LeasedFetch's controls of its usage reports. */
export interface UsageControls {
  /** flush sends the queued observations now and resolves when the broker has answered. */
  flush(): Promise<void>;
  /** close flushes and stops reporting. */
  close(): Promise<void>;
  /** usageStats says how many observations were sent, dropped because the queue was full, and lost in failed batches. */
  usageStats(): UsageStats;
}

/** LeaseError is thrown when no key could be leased; its cause is the broker's ConnectError. */
export class LeaseError extends Error {
  constructor(pool: string, cause: unknown) {
    super(`keybroker: lease a key from pool "${pool}": ${(cause as Error)?.message ?? cause}`, { cause });
    this.name = "LeaseError";
  }
}

/** FetchInput is what fetch takes as its first argument. */
type FetchInput = string | URL | Request;

interface Leased {
  secret: string;
  keyId: string;
  leaseId: string;
  expireMs: number;
  /** uses is how many calls the broker's budget granted (0: no budget, any number until expireMs). */
  uses: number;
  /** usesExpireMs is when the granted uses end (0: when the lease does). */
  usesExpireMs: number;
}

// leasedFrom reads a grant; sentMs is when GetRandom was sent, from which
// the uses' validity counts: the broker answered later, so the budget's
// window ends no sooner than sentMs plus usesValidFor.
function leasedFrom(r: GetRandomResponse, sentMs: number): Leased {
  const exp = r.lease?.expireTime;
  const uses = r.lease?.uses ?? 0;
  const valid = r.lease?.usesValidFor;
  return {
    secret: r.secret,
    keyId: r.keyId,
    leaseId: r.lease?.leaseId ?? "",
    expireMs: exp ? Number(exp.seconds) * 1000 + exp.nanos / 1e6 : 0,
    uses,
    usesExpireMs: uses > 0 && valid ? sentMs + Number(valid.seconds) * 1000 + valid.nanos / 1e6 : 0,
  };
}

// Refusals the broker's table reads; 5xx are never reported.
const reportable = new Set([400, 401, 402, 403, 429]);
const keyFaults = new Set([
  FailureKind.INVALID_KEY,
  FailureKind.QUOTA_EXHAUSTED,
  FailureKind.RATE_LIMITED,
  FailureKind.PERMISSION_DENIED,
]);

/**
 * leasedFetch returns a fetch that, per request, leases a key from pool
 * (or reuses one), puts it in the provider's auth header (replacing the
 * SDK's placeholder), and sends the request. When the provider refuses
 * the call (400, 401, 402, 403, 429) it reports the status, the error
 * body's type/code/message and the rate-limit headers as retry_after to
 * the broker, which classifies them. 5xx and network errors are never
 * reported. The caller gets every response as the provider sent it.
 *
 *   const openai = new OpenAI({ apiKey: "leased", fetch: leasedFetch(kb, "openai-main") });
 */
export function leasedFetch(kb: KeyBroker, pool: string, opts: LeasedFetchOptions = {}): LeasedFetch {
  const auth = opts.auth ?? openAIAuth;
  const base = opts.fetch ?? globalThis.fetch;
  const maxBody = opts.maxErrorBody ?? 64 << 10;
  const cache = new LeaseCache(opts.leaseReuse);
  const usage = opts.usageReports === false ? undefined : new UsageReporter(kb, pool, (err) => opts.onReportError?.(err, ""));

  async function lease(input: FetchInput, init?: RequestInit): Promise<Leased> {
    const hit = cache.get();
    if (hit) return hit;
    const fill = cache.startFill();
    try {
      const sent = Date.now();
      let r: GetRandomResponse;
      try {
        r = await kb.getRandom(pool, {
          estimatedTokens: opts.estimateTokens?.(input, init),
          uses: fill ? cache.wantUses() : 1,
          // The request's own signal (an SDK's timeout) bounds the lease too.
          signal: init?.signal ?? (input instanceof Request ? input.signal : undefined),
        });
      } catch (err) {
        throw new LeaseError(pool, err);
      }
      const l = leasedFrom(r, sent);
      if (fill) cache.put(l);
      return l;
    } finally {
      if (fill) cache.endFill();
    }
  }

  // observe queues what the answer's rate-limit headers say, for the broker's budgets.
  function observe(resp: Response, key: Leased): void {
    if (!usage) return;
    const now = Date.now();
    const u = usageOf(resp.headers, key.leaseId, now);
    if (u) usage.add(u, now);
  }

  function send(input: FetchInput, init: RequestInit | undefined, key: Leased): Promise<Response> {
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    headers.set(auth.header, auth.prefix + key.secret);
    return base(input, { ...init, headers });
  }

  // inspect reports a refusal and says whether the broker blamed the key.
  async function inspect(resp: Response, key: Leased): Promise<boolean> {
    if (!reportable.has(resp.status)) return false;
    const body = await readSome(resp.clone(), maxBody);
    const pe = parseProviderError(body);
    const waitMs = retryAfterMs(resp.headers, pe.retryDelayMs);
    try {
      const rep = await kb.reportFailure({
        pool,
        key: { case: "leaseId", value: key.leaseId },
        httpStatus: resp.status,
        errorType: pe.type,
        errorCode: pe.code,
        errorMessage: pe.message,
        retryAfter: waitMs > 0 ? durationOf(waitMs) : undefined,
      });
      if (!keyFaults.has(rep.kind)) return false;
      cache.drop(key);
      return true;
    } catch (err) {
      cache.drop(key);
      opts.onReportError?.(err, key.keyId);
      return false;
    }
  }

  async function fetchWithLeasedKey(input: FetchInput, init?: RequestInit): Promise<Response> {
    const key = await lease(input, init);
    const resp = await send(input, init, key);
    observe(resp, key);
    if (!(await inspect(resp, key)) || !opts.retryOnKeyFailure || !replayable(input, init)) return resp;
    let next: Leased;
    try {
      next = await lease(input, init);
    } catch {
      return resp; // no other key: the provider's refusal stands
    }
    await resp.body?.cancel().catch(() => {});
    const again = await send(input, init, next);
    observe(again, next);
    await inspect(again, next);
    return again;
  }
  return Object.assign(fetchWithLeasedKey, {
    flush: async () => usage?.flush(),
    close: async () => usage?.close(),
    usageStats: (): UsageStats => usage?.stats() ?? { sent: 0, dropped: 0, failed: 0 },
  });
}

// replayable reports whether the request's body can be sent a second time.
function replayable(input: FetchInput, init?: RequestInit): boolean {
  if (init?.body !== undefined && init.body !== null) return !(init.body instanceof ReadableStream);
  return !(input instanceof Request && input.body !== null);
}


async function readSome(resp: Response, max: number): Promise<string> {
  if (!resp.body) return "";
  const reader = resp.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  try {
    while (n < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      n += value.length;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).subarray(0, max).toString("utf8");
}

// LeaseCache holds the one lease reused until it expires, has served
// maxUses requests (0: no limit) or the uses the broker granted, its
// granted uses' window ends, or it fails.
class LeaseCache {
  private cur?: Leased;
  private uses = 0;
  private filling = false;
  constructor(private readonly reuse?: { maxUses?: number }) {}

  get(): Leased | undefined {
    if (!this.reuse || !this.cur) return undefined;
    const now = Date.now();
    if (now >= this.cur.expireMs || (this.cur.usesExpireMs > 0 && now >= this.cur.usesExpireMs)) {
      this.cur = undefined;
      return undefined;
    }
    const l = this.cur;
    this.uses++;
    const max = this.reuse.maxUses ?? 0;
    if ((max > 0 && this.uses >= max) || (l.uses > 0 && this.uses >= l.uses)) this.cur = undefined;
    return l;
  }

  // wantUses is how many calls to ask GetRandom to cover when leasing the
  // key to reuse: maxUses, or 32 without a limit.
  wantUses(): number {
    const max = this.reuse?.maxUses ?? 0;
    return max > 0 ? Math.min(max, 1 << 20) : 32;
  }

  // startFill says whether this request leases the key to reuse (and
  // calls put, then endFill): only one at a time does, so that requests
  // arriving together on an empty cache do not each reserve many uses of
  // a key and waste all but one lease's budget. The others lease a key
  // for their own call only.
  startFill(): boolean {
    if (!this.reuse || this.filling) return false;
    this.filling = true;
    return true;
  }

  endFill(): void {
    this.filling = false;
  }

  // put caches a fresh lease that has just served one request.
  put(l: Leased): void {
    if (!this.reuse || this.reuse.maxUses === 1 || l.uses === 1) return;
    this.cur = l;
    this.uses = 1;
  }

  drop(l: Leased): void {
    if (this.cur === l) this.cur = undefined;
  }
}
