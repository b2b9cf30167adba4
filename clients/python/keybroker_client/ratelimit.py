"""How long a provider asked to wait, from its headers.

Retry-After (or OpenAI's retry-after-ms) first; then Gemini's RetryInfo
from the body; then the reset headers of the windows that are used up
(remaining 0), or failing that of every window named, the longest. The
same order as the Go client.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

_MAX = 30 * 24 * 3600.0


def _reset_duration(v: str, now: float) -> float:
    """OpenAI's "6m0s", "1.5s", "12ms"; a bare number is seconds."""
    if not v:
        return 0.0
    try:
        return max(float(v), 0.0)
    except ValueError:
        pass
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)", v)
    if "".join(n + u for n, u in parts) != v:
        return 0.0
    return sum(float(n) * units[u] for n, u in parts)


def _reset_time(v: str, now: float) -> float:
    """Anthropic's RFC 3339 reset time."""
    try:
        t = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return max(t.timestamp() - now, 0.0)


_RESET_HEADERS = [
    ("x-ratelimit-reset-requests", "x-ratelimit-remaining-requests", _reset_duration),
    ("x-ratelimit-reset-tokens", "x-ratelimit-remaining-tokens", _reset_duration),
    ("anthropic-ratelimit-requests-reset", "anthropic-ratelimit-requests-remaining", _reset_time),
    ("anthropic-ratelimit-tokens-reset", "anthropic-ratelimit-tokens-remaining", _reset_time),
    ("anthropic-ratelimit-input-tokens-reset", "anthropic-ratelimit-input-tokens-remaining", _reset_time),
    ("anthropic-ratelimit-output-tokens-reset", "anthropic-ratelimit-output-tokens-remaining", _reset_time),
]


def retry_after(headers, body_delay: float = 0.0, now: float | None = None) -> float:
    """retry_after is how long (seconds) the provider asked to wait, 0.0 when it did not say."""
    now = time.time() if now is None else now
    explicit = _retry_after_header(headers, now)
    if explicit is not None:
        return min(explicit, _MAX)
    if body_delay > 0:
        return min(body_delay, _MAX)
    exhausted = longest = 0.0
    for reset, remaining, parse in _RESET_HEADERS:
        d = parse((headers.get(reset) or "").strip(), now)
        if d <= 0:
            continue
        longest = max(longest, d)
        if (headers.get(remaining) or "").strip() == "0":
            exhausted = max(exhausted, d)
    return min(exhausted or longest, _MAX)


def _retry_after_header(headers, now: float) -> float | None:
    try:
        ms = float((headers.get("retry-after-ms") or "").strip())
        if ms >= 0:
            return ms / 1000.0
    except ValueError:
        pass
    v = (headers.get("retry-after") or "").strip()
    if not v:
        return None
    try:
        secs = float(v)
        return secs if secs >= 0 else None
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(v).timestamp() - now, 0.0)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class RateLimitWindow:
    """One provider rate-limit window as an answer's headers state it.

    A count the provider did not send (or sent as anything but a
    non-negative integer) is None; reset is seconds until the window is
    whole again, 0.0 when not said.
    """

    limit: int | None = None
    remaining: int | None = None
    reset: float = 0.0


@dataclass(frozen=True)
class RateLimits:
    """An answer's request and token windows; None when not stated."""

    requests: RateLimitWindow | None = None
    tokens: RateLimitWindow | None = None


# The providers' windows, in the order the Go client's
# failure.ReadRateLimits reads them: OpenAI's (resets as durations), then
# Anthropic's (resets as RFC 3339 times).
_REQUEST_WINDOWS = [
    ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests", _reset_duration),
    (
        "anthropic-ratelimit-requests-limit",
        "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-requests-reset",
        _reset_time,
    ),
]
_TOKEN_WINDOWS = [
    ("x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens", _reset_duration),
    (
        "anthropic-ratelimit-tokens-limit",
        "anthropic-ratelimit-tokens-remaining",
        "anthropic-ratelimit-tokens-reset",
        _reset_time,
    ),
]


def read_rate_limits(headers, now: float | None = None) -> RateLimits:
    """read_rate_limits reads the request and token windows an answer's headers state.

    For each, the first provider's headers that state a limit or a
    remaining count, as the Go client's failure.ReadRateLimits does. Every
    answer carries them, successes included, which is what lets the
    broker budget keys before the provider refuses them.
    """
    now = time.time() if now is None else now
    return RateLimits(_read_window(headers, _REQUEST_WINDOWS, now), _read_window(headers, _TOKEN_WINDOWS, now))


def _read_window(headers, windows, now: float) -> RateLimitWindow | None:
    for limit_h, remaining_h, reset_h, parse in windows:
        limit, remaining = _count(headers, limit_h), _count(headers, remaining_h)
        if limit is None and remaining is None:
            continue
        reset = parse((headers.get(reset_h) or "").strip(), now)
        return RateLimitWindow(limit, remaining, min(reset, _MAX) if reset > 0 else 0.0)  # NaN is not > 0
    return None


_INT = re.compile(r"[+-]?[0-9]+")
_MAX_INT64 = (1 << 63) - 1


def _count(headers, name: str) -> int | None:
    """A count as Go's strconv.ParseInt reads it (sign, ASCII digits, int64), if not negative."""
    v = (headers.get(name) or "").strip()
    if not _INT.fullmatch(v):
        return None
    n = int(v)
    return n if 0 <= n <= _MAX_INT64 else None
