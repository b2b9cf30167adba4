// @keybroker/client: lease provider API keys from a keybroker pool.
export { KeyBroker, defaultRetryPolicy, type GetRandomOptions, type KeyBrokerOptions, type RetryPolicy } from "./broker";
export { leasedFetch, LeaseError, type LeasedFetch, type LeasedFetchOptions } from "./fetch";
export { type Auth, openAIAuth, anthropicAuth, geminiAuth, headerAuth } from "./auth";
export {
  Code,
  ConnectError,
  DOMAIN,
  ErrorReason,
  connectError,
  reason,
  errorInfo,
  errorReason,
  retryDelayMs,
  retryInfo,
  type ErrorInfo,
  type RetryInfo,
} from "./errors";
export { parseProviderError, type ProviderError } from "./providererror";
export { readRateLimits, retryAfterMs, type RateLimits, type RateLimitWindow } from "./ratelimit";
export { type UsageStats } from "./usage";
export * as pb from "./gen/keybroker/v1/keybroker_pb";
