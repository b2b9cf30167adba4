"""What a provider's error body says, in the terms of ReportFailureRequest.

The broker classifies it; this only reads it (OpenAI and relays,
Anthropic, Gemini), as the Go client's providererror.go does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_MAX_FIELD = 256
_MAX_MESSAGE = 4096


@dataclass
class ProviderError:
    """The error type, code and message of a refusal; retry_delay is Gemini's RetryInfo in seconds."""

    type: str = ""
    code: str = ""
    message: str = ""
    retry_delay: float = 0.0


def parse_provider_error(body: bytes) -> ProviderError:
    """parse_provider_error reads an error body; what it cannot read yields empty fields."""
    out = ProviderError()
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return out
    if isinstance(doc, list):  # Gemini's streaming endpoints
        doc = doc[0] if doc else None
    err = doc.get("error") if isinstance(doc, dict) else None
    if isinstance(err, str):  # relays: {"error": "message"}
        out.message = _clip(err, _MAX_MESSAGE)
        return out
    if not isinstance(err, dict):
        return out
    out.type = _str(err.get("type")) or _str(err.get("status"))
    out.code = _str(err.get("code"))  # a number (Gemini's copy of the status) is left out
    out.message = _str(err.get("message"))
    _read_google_details(out, err.get("details") if isinstance(err.get("details"), list) else [])
    out.type, out.code = _clip(out.type, _MAX_FIELD), _clip(out.code, _MAX_FIELD)
    out.message = _clip(out.message, _MAX_MESSAGE)
    return out


def _read_google_details(pe: ProviderError, details: list) -> None:
    """Take the code from Gemini's details when the body had none.

    A quota id (QuotaFailure violations, ErrorInfo's quota_limit), the
    per-day one if any is named since that is what keeps the key out,
    before an ErrorInfo's reason (API_KEY_INVALID).
    """
    reason = ""
    quota_ids = []
    for d in details:
        if not isinstance(d, dict):
            continue
        typ = _str(d.get("@type"))
        if typ.endswith("google.rpc.ErrorInfo"):
            reason = reason or _str(d.get("reason"))
            meta = d.get("metadata")
            quota_ids.append(_str(meta.get("quota_limit")) if isinstance(meta, dict) else "")
        elif typ.endswith("google.rpc.QuotaFailure"):
            for v in d.get("violations") or []:
                quota_ids.append(_str(v.get("quotaId")) if isinstance(v, dict) else "")
        elif typ.endswith("google.rpc.RetryInfo"):
            m = re.fullmatch(r"(\d+(?:\.\d+)?)s", _str(d.get("retryDelay")))
            if m:
                pe.retry_delay = float(m.group(1))
    pe.code = pe.code or _quota_id(quota_ids) or reason


def _quota_id(ids: list) -> str:
    """A per-day quota id if any is named, else the first named."""
    named = [i for i in ids if i]
    for i in named:
        if any(w in i.lower() for w in ("perday", "per_day", "per day")):
            return i
    return named[0] if named else ""


def _str(v) -> str:
    return v if isinstance(v, str) else ""


def _clip(s: str, n: int) -> str:
    b = s.encode("utf-8", "ignore")
    if len(b) <= n:
        return s
    return b[:n].decode("utf-8", "ignore")
