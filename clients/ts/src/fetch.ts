// leasedFetch: a fetch that calls a provider with keys leased from a
// keybroker pool, with the manners of the Go client's Transport.
import { FailureKind, type GetRandomResponse } from "./gen/keybroker/v1/keybroker_pb";
import { type Auth, openAIAuth } from "./auth";
import type { KeyBroker } from "./broker";
import { parseProviderError } from "./providererror";
import { retryAfterMs } from "./ratelimit";

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
   * the provider refuses it.
   */
  leaseReuse?: { maxUses?: number };
  /** maxErrorBody is how many bytes of a refusal's body are read to report it (default 64 KiB). */
  maxErrorBody?: number;
  /** onReportError hears about reports the broker did not take (default: ignored). */
  onReportError?: (err: unknown, keyId: string) => void;
}

/** LeaseError is thrown when no key could be leased; its cause is the broker's ConnectError. */
export class LeaseError extends Error {
  constructor(pool: string, cause: unknown) {
    super(`keybroker: lease a key from pool "${pool}": ${(cause as Error)?.message ?? cause}`, { cause });
    this.name = "LeaseError";
  }
}

/** FetchInput is what fetch takes as its first argument. */
type FetchInput = Parameters<typeof fetch>[0];

interface Leased {
  secret: string;
  keyId: string;
  leaseId: string;
  expireMs: number;
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
export function leasedFetch(kb: KeyBroker, pool: string, opts: LeasedFetchOptions = {}): typeof fetch {
  const auth = opts.auth ?? openAIAuth;
  const base = opts.fetch ?? globalThis.fetch;
  const maxBody = opts.maxErrorBody ?? 64 << 10;
  const cache = new LeaseCache(opts.leaseReuse);

  async function lease(): Promise<Leased> {
    const hit = cache.get();
    if (hit) return hit;
    let r: GetRandomResponse;
    try {
      r = await kb.getRandom(pool);
    } catch (err) {
      throw new LeaseError(pool, err);
    }
    const exp = r.lease?.expireTime;
    const l = {
      secret: r.secret,
      keyId: r.keyId,
      leaseId: r.lease?.leaseId ?? "",
      expireMs: exp ? Number(exp.seconds) * 1000 + exp.nanos / 1e6 : 0,
    };
    cache.put(l);
    return l;
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
        retryAfter: waitMs > 0 ? duration(waitMs) : undefined,
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

  return async function fetchWithLeasedKey(input: FetchInput, init?: RequestInit): Promise<Response> {
    const key = await lease();
    const resp = await send(input, init, key);
    if (!(await inspect(resp, key)) || !opts.retryOnKeyFailure || !replayable(input, init)) return resp;
    let next: Leased;
    try {
      next = await lease();
    } catch {
      return resp; // no other key: the provider's refusal stands
    }
    await resp.body?.cancel().catch(() => {});
    const again = await send(input, init, next);
    await inspect(again, next);
    return again;
  };
}

// replayable reports whether the request's body can be sent a second time.
function replayable(input: FetchInput, init?: RequestInit): boolean {
  if (init?.body !== undefined && init.body !== null) return !(init.body instanceof ReadableStream);
  return !(input instanceof Request && input.body !== null);
}

function duration(ms: number) {
  return { seconds: BigInt(Math.floor(ms / 1000)), nanos: Math.round((ms % 1000) * 1e6) };
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
// maxUses requests (0: no limit), or fails.
class LeaseCache {
  private cur?: Leased;
  private uses = 0;
  constructor(private readonly reuse?: { maxUses?: number }) {}

  get(): Leased | undefined {
    if (!this.reuse || !this.cur) return undefined;
    if (Date.now() >= this.cur.expireMs) {
      this.cur = undefined;
      return undefined;
    }
    const l = this.cur;
    this.uses++;
    const max = this.reuse.maxUses ?? 0;
    if (max > 0 && this.uses >= max) this.cur = undefined;
    return l;
  }

  put(l: Leased): void {
    if (!this.reuse || this.reuse.maxUses === 1) return;
    this.cur = l;
    this.uses = 1;
  }

  drop(l: Leased): void {
    if (this.cur === l) this.cur = undefined;
  }
}
