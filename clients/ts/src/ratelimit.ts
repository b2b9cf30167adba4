// How long a provider asked to wait, from its headers: Retry-After (or
// OpenAI's retry-after-ms), then Gemini's RetryInfo from the body, then
// the rate-limit reset headers of the windows that are used up (or of
// every window named), the longest. Same order as the Go client.

const MAX_MS = 30 * 24 * 3600 * 1000;

interface ResetHeader {
  reset: string;
  remaining: string;
  parse: (v: string, now: number) => number;
}

const resetHeaders: ResetHeader[] = [
  { reset: "x-ratelimit-reset-requests", remaining: "x-ratelimit-remaining-requests", parse: parseResetDuration },
  { reset: "x-ratelimit-reset-tokens", remaining: "x-ratelimit-remaining-tokens", parse: parseResetDuration },
  { reset: "anthropic-ratelimit-requests-reset", remaining: "anthropic-ratelimit-requests-remaining", parse: parseResetTime },
  { reset: "anthropic-ratelimit-tokens-reset", remaining: "anthropic-ratelimit-tokens-remaining", parse: parseResetTime },
  { reset: "anthropic-ratelimit-input-tokens-reset", remaining: "anthropic-ratelimit-input-tokens-remaining", parse: parseResetTime },
  { reset: "anthropic-ratelimit-output-tokens-reset", remaining: "anthropic-ratelimit-output-tokens-remaining", parse: parseResetTime },
];

/** retryAfterMs is how long the provider asked to wait, 0 when it did not say. */
export function retryAfterMs(h: Headers, bodyDelayMs: number, now = Date.now()): number {
  const explicit = retryAfterHeader(h, now);
  if (explicit !== undefined) return Math.min(explicit, MAX_MS);
  if (bodyDelayMs > 0) return Math.min(bodyDelayMs, MAX_MS);
  let exhausted = 0;
  let longest = 0;
  for (const rh of resetHeaders) {
    const d = rh.parse((h.get(rh.reset) ?? "").trim(), now);
    if (d <= 0) continue;
    longest = Math.max(longest, d);
    if ((h.get(rh.remaining) ?? "").trim() === "0") exhausted = Math.max(exhausted, d);
  }
  return Math.min(exhausted || longest, MAX_MS);
}

function retryAfterHeader(h: Headers, now: number): number | undefined {
  const ms = Number((h.get("retry-after-ms") ?? "").trim() || NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const v = (h.get("retry-after") ?? "").trim();
  if (!v) return undefined;
  const secs = Number(v);
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(t - now, 0);
}

const units: Record<string, number> = { h: 3600e3, m: 60e3, s: 1e3, ms: 1, us: 1e-3, "µs": 1e-3, ns: 1e-6 };

// parseResetDuration reads OpenAI's "6m0s", "1.5s", "12ms"; a bare number is seconds.
export function parseResetDuration(v: string): number {
  if (!v) return 0;
  const n = Number(v);
  if (Number.isFinite(n)) return n > 0 ? n * 1000 : 0;
  const re = /(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/gy;
  let total = 0;
  let end = 0;
  for (let m; (m = re.exec(v)); end = re.lastIndex) total += parseFloat(m[1]) * units[m[2]];
  return end === v.length ? total : 0;
}

// parseResetTime reads Anthropic's RFC 3339 reset time.
function parseResetTime(v: string, now: number): number {
  const t = Date.parse(v);
  return Number.isNaN(t) ? 0 : Math.max(t - now, 0);
}

/**
 * RateLimitWindow is one provider rate-limit window as an answer's headers
 * state it: a count the provider did not send (or sent as anything but a
 * non-negative integer) is undefined; resetMs is 0 when not said.
 */
export interface RateLimitWindow {
  limit?: bigint;
  remaining?: bigint;
  resetMs: number;
}

/** RateLimits are an answer's request and token windows; undefined when not stated. */
export interface RateLimits {
  requests?: RateLimitWindow;
  tokens?: RateLimitWindow;
}

interface WindowHeaders {
  limit: string;
  remaining: string;
  reset: string;
  parse: (v: string, now: number) => number;
}

// The providers' windows, in the order the Go client's
// failure.ReadRateLimits reads them: OpenAI's (resets as durations), then
// Anthropic's (resets as RFC 3339 times).
const requestWindows: WindowHeaders[] = [
  { limit: "x-ratelimit-limit-requests", remaining: "x-ratelimit-remaining-requests", reset: "x-ratelimit-reset-requests", parse: parseResetDuration },
  {
    limit: "anthropic-ratelimit-requests-limit",
    remaining: "anthropic-ratelimit-requests-remaining",
    reset: "anthropic-ratelimit-requests-reset",
    parse: parseResetTime,
  },
];
const tokenWindows: WindowHeaders[] = [
  { limit: "x-ratelimit-limit-tokens", remaining: "x-ratelimit-remaining-tokens", reset: "x-ratelimit-reset-tokens", parse: parseResetDuration },
  {
    limit: "anthropic-ratelimit-tokens-limit",
    remaining: "anthropic-ratelimit-tokens-remaining",
    reset: "anthropic-ratelimit-tokens-reset",
    parse: parseResetTime,
  },
];

/**
 * readRateLimits reads the request and token windows an answer's headers
 * state, as the Go client's failure.ReadRateLimits does: for each, the
 * first provider's headers that state a limit or a remaining count.
 * Every answer carries them, successes included, which is what lets the
 * broker budget keys before the provider refuses them.
 */
export function readRateLimits(h: Headers, now = Date.now()): RateLimits {
  return { requests: readWindow(h, requestWindows, now), tokens: readWindow(h, tokenWindows, now) };
}

function readWindow(h: Headers, windows: WindowHeaders[], now: number): RateLimitWindow | undefined {
  for (const wh of windows) {
    const limit = headerCount(h, wh.limit);
    const remaining = headerCount(h, wh.remaining);
    if (limit === undefined && remaining === undefined) continue;
    const reset = wh.parse((h.get(wh.reset) ?? "").trim(), now);
    return { limit, remaining, resetMs: reset > 0 ? Math.min(reset, MAX_MS) : 0 };
  }
  return undefined;
}

const MAX_INT64 = (1n << 63n) - 1n;

// headerCount reads a count as Go's strconv.ParseInt does (an optional
// sign, decimal digits, within int64), keeping only non-negative ones.
function headerCount(h: Headers, name: string): bigint | undefined {
  const v = (h.get(name) ?? "").trim();
  if (!/^[+-]?[0-9]+$/.test(v)) return undefined;
  const n = BigInt(v);
  return n >= 0n && n <= MAX_INT64 ? n : undefined;
}
