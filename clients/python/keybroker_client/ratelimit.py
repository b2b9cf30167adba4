"""How long a provider asked to wait, from its headers.

Retry-After (or OpenAI's retry-after-ms) first; then Gemini's RetryInfo
from the body; then the reset headers of the windows that are used up
(remaining 0), or failing that of every window named, the longest. The
same order as the Go client.
"""

from __future__ import annotations

import re
import time
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
