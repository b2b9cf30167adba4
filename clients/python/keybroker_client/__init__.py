"""keybroker client: lease provider API keys from a keybroker pool.

    import httpx, openai
    from keybroker_client import KeyBroker, LeasedTransport

    kb = KeyBroker("127.0.0.1:50051")
    client = openai.OpenAI(
        api_key="leased-by-keybroker",
        http_client=httpx.Client(transport=LeasedTransport(kb, "openai-main")),
    )

KeyBroker is the generated gRPC stub with a default deadline and retries
of UNAVAILABLE that honour the broker's RetryInfo. LeasedTransport leases
a key per request (or reuses one), presents it as the provider expects,
reports the provider's refusals to the broker, and sends it the
rate-limit headers of every answer in the background, for its budgets. BrokerError carries
the broker's google.rpc.ErrorInfo and RetryInfo, decoded with the
generated google.rpc types.
"""

from .auth import ANTHROPIC_AUTH, GEMINI_AUTH, OPENAI_AUTH, Auth
from .broker import DEFAULT_RETRY_POLICY, KeyBroker, RetryPolicy
from .errors import DOMAIN, BrokerError
from .providererror import ProviderError, parse_provider_error
from .ratelimit import RateLimits, RateLimitWindow, read_rate_limits, retry_after
from .transport import AsyncLeasedTransport, LeasedTransport, LeaseError
from .usage import UsageStats

__all__ = [
    "ANTHROPIC_AUTH",
    "AsyncLeasedTransport",
    "DEFAULT_RETRY_POLICY",
    "DOMAIN",
    "GEMINI_AUTH",
    "OPENAI_AUTH",
    "Auth",
    "BrokerError",
    "KeyBroker",
    "LeaseError",
    "LeasedTransport",
    "ProviderError",
    "RateLimitWindow",
    "RateLimits",
    "RetryPolicy",
    "UsageStats",
    "parse_provider_error",
    "read_rate_limits",
    "retry_after",
]
