// @keybroker/client: lease provider API keys from a keybroker pool.
export { KeyBroker, defaultRetryPolicy, type KeyBrokerOptions, type RetryPolicy } from "./broker";
export { leasedFetch, LeaseError, type LeasedFetchOptions } from "./fetch";
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
export { retryAfterMs } from "./ratelimit";
export * as pb from "./gen/keybroker/v1/keybroker_pb";
