"""LeasedTransport: an httpx transport that calls a provider with leased keys."""

from __future__ import annotations

import asyncio
import logging
import threading
import zlib
import time
from dataclasses import dataclass
from typing import AsyncIterator, Callable, Iterator

import httpx
from keybroker.v1 import keybroker_pb2 as pb

from .auth import OPENAI_AUTH, Auth
from .broker import KeyBroker
from .errors import BrokerError
from .providererror import parse_provider_error
from .ratelimit import retry_after
from .usage import UsageReporter, UsageStats, usage_of

DEFAULT_MAX_ERROR_BODY = 64 << 10
"""How much of a refusal's body is read to report it; the rest still reaches the caller."""

# Refusals the broker's table reads; 5xx are never reported.
_REPORTABLE = frozenset({400, 401, 402, 403, 429})
_KEY_FAULTS = frozenset(
    {
        pb.FAILURE_KIND_INVALID_KEY,
        pb.FAILURE_KIND_QUOTA_EXHAUSTED,
        pb.FAILURE_KIND_RATE_LIMITED,
        pb.FAILURE_KIND_PERMISSION_DENIED,
    }
)


class LeaseError(Exception):
    """LeaseError: no key could be leased. cause is the BrokerError (reason, retry_delay)."""

    def __init__(self, pool: str, cause: BrokerError):
        super().__init__(f'keybroker: lease a key from pool "{pool}": {cause}')
        self.cause = cause
        self.reason = cause.reason
        self.reason_enum = cause.reason_enum
        self.retry_delay = cause.retry_delay


_DEFAULT_REUSE_USES = 32
"""How many calls a transport reusing leases without a limit asks a budgeted pool to cover."""


@dataclass
class _Leased:
    secret: str
    key_id: str
    lease_id: str
    expire: float  # unix seconds
    uses: int = 0  # calls the broker's budget granted; 0: any number until expire
    uses_expire: float = 0.0  # time.monotonic() when the granted uses end; 0.0: when the lease does


def _leased(r: pb.GetRandomResponse, sent: float) -> _Leased:
    """Read a grant; sent (time.monotonic()) is when GetRandom was sent.

    The uses' validity counts from then: the broker answered later, so the
    budget's window ends no sooner than sent plus uses_valid_for.
    """
    l = _Leased(r.secret, r.key_id, r.lease.lease_id, r.lease.expire_time.ToNanoseconds() / 1e9, r.lease.uses)
    if l.uses > 0 and r.lease.HasField("uses_valid_for"):
        l.uses_expire = sent + r.lease.uses_valid_for.ToNanoseconds() / 1e9
    return l


class _Leaser:
    """What the sync and async transports share: leasing, reuse, reporting.

    Its methods block on the broker; the async transport runs them in a
    worker thread.
    """

    def __init__(
        self, broker, pool, auth, retry_on_key_failure, lease_reuse, max_error_body, logger, usage_reports, estimate_tokens
    ):
        self._kb = broker
        self._pool = pool
        self._auth = auth
        self._retry = retry_on_key_failure
        self._max_body = max(max_error_body, 0)
        self._log = logger or logging.getLogger("keybroker_client")
        self._reuse = lease_reuse
        self._estimate = estimate_tokens
        self._usage = UsageReporter(broker, pool, self._log) if usage_reports else None
        self._lock = threading.Lock()
        self._cur: _Leased | None = None
        self._uses = 0
        self._filling = False

    def usage_stats(self) -> UsageStats:
        """usage_stats says how many observations were sent to the broker, dropped (queue full) and failed."""
        return self._usage.stats() if self._usage else UsageStats(0, 0)

    def _cached(self) -> _Leased | None:
        """The reused lease for one more request, or None when there is none worth using."""
        with self._lock:
            if self._reuse is None or self._cur is None:
                return None
            l = self._cur
            if time.time() >= l.expire or (l.uses_expire and time.monotonic() >= l.uses_expire):
                self._cur = None
                return None
            self._uses += 1
            if self._reuse > 0 and self._uses >= self._reuse or l.uses > 0 and self._uses >= l.uses:
                self._cur = None
            return l

    def _start_fill(self) -> bool:
        """Whether this request leases the key to reuse: only one at a time does.

        Requests arriving together on an empty cache would otherwise each
        reserve many uses of a key and waste all but one lease's budget;
        the others lease a key for their own call only.
        """
        with self._lock:
            if self._reuse is None or self._filling:
                return False
            self._filling = True
            return True

    def _want_uses(self) -> int:
        return min(self._reuse, 1 << 20) if self._reuse else _DEFAULT_REUSE_USES

    def _tokens(self, request: httpx.Request) -> int:
        n = self._estimate(request) if self._estimate else None
        return max(int(n), 0) if n else 0

    def _lease_new(self, tokens: int = 0) -> _Leased:
        fill = self._start_fill()
        try:
            sent = time.monotonic()
            try:
                r = self._kb.get_random(self._pool, estimated_tokens=tokens, uses=self._want_uses() if fill else 1)
            except BrokerError as err:
                raise LeaseError(self._pool, err) from err
            l = _leased(r, sent)
            if fill and self._reuse != 1 and l.uses != 1:
                with self._lock:
                    self._cur, self._uses = l, 1
            return l
        finally:
            if fill:
                with self._lock:
                    self._filling = False

    def _observe(self, response: httpx.Response, key: _Leased) -> None:
        """Queue what the answer's rate-limit headers say, for the broker's budgets."""
        if self._usage is None:
            return
        u = usage_of(response.headers, key.lease_id)
        if u is not None:
            self._usage.add(u)

    def _drop(self, l: _Leased) -> None:
        with self._lock:
            if self._cur is l:
                self._cur = None

    def _with_key(self, request: httpx.Request, key: _Leased) -> httpx.Request:
        """A copy of request carrying key in the provider's header; request itself is unchanged."""
        headers = request.headers.copy()
        headers[self._auth.header] = self._auth.prefix + key.secret
        return httpx.Request(
            request.method, request.url, headers=headers, stream=request.stream, extensions=request.extensions
        )

    def _report(self, status: int, headers: httpx.Headers, head: bytes, key: _Leased) -> bool:
        """Report a refusal (head is the start of its body); say whether the broker blamed the key."""
        pe = parse_provider_error(_decoded(headers, head))
        req = pb.ReportFailureRequest(
            pool=self._pool,
            lease_id=key.lease_id,
            http_status=status,
            error_type=pe.type,
            error_code=pe.code,
            error_message=pe.message,
        )
        wait = retry_after(headers, pe.retry_delay)
        if wait > 0:
            req.retry_after.FromNanoseconds(int(wait * 1e9))
        try:
            rep = self._kb.report_failure(req)
        except BrokerError as err:
            self._drop(key)
            self._log.warning(
                "keybroker: report failure: pool=%s key_id=%s http_status=%d: %s",
                self._pool, key.key_id, status, err,
            )
            return False
        if rep.kind not in _KEY_FAULTS:
            return False
        self._drop(key)
        return True


class LeasedTransport(_Leaser, httpx.BaseTransport):
    """An httpx transport that leases a key from a keybroker pool per request.

    It puts the key in the provider's auth header (replacing the SDK's
    placeholder) and sends the request with base (default
    httpx.HTTPTransport()). When the provider refuses the call (400, 401,
    402, 403, 429) it reports the status, the error body's type, code and
    message, and the rate-limit headers as retry_after to the broker,
    which classifies them. 5xx and network errors are never reported. The
    caller gets every response as the provider sent it, body included.

    retry_on_key_failure sends a request once more with another key when
    the broker blames the key (never for 5xx, nor for a streamed body).
    lease_reuse keeps a key until its lease expires, or for lease_reuse
    requests when > 0 (None: a lease per request); a refused key is
    dropped at once. On a budgeted pool it asks GetRandom to cover
    lease_reuse calls (32 when 0) and uses the lease at most as many times
    as the broker granted (lease.uses), never after lease.uses_valid_for
    from when it asked.

    usage_reports (default True) reads the rate-limit headers of every
    answer, successes included, and a background thread sends them to the
    broker in batches (ReportUsage) for its budgets; a request never waits
    for it, and a full queue (4096) drops the observation and counts it
    (usage_stats(); a batch the broker did not take is logged and counted
    as failed). close() sends what is queued. estimate_tokens, a
    callable(request) -> int | None, says what a request will cost in
    provider tokens; GetRandom reserves it from the key's token budget.
    Thread-safe.
    """

    def __init__(
        self,
        broker: KeyBroker,
        pool: str,
        *,
        auth: Auth = OPENAI_AUTH,
        base: httpx.BaseTransport | None = None,
        retry_on_key_failure: bool = False,
        lease_reuse: int | None = None,
        max_error_body: int = DEFAULT_MAX_ERROR_BODY,
        logger: logging.Logger | None = None,
        usage_reports: bool = True,
        estimate_tokens: Callable[[httpx.Request], int | None] | None = None,
    ):
        super().__init__(
            broker, pool, auth, retry_on_key_failure, lease_reuse, max_error_body, logger, usage_reports, estimate_tokens
        )
        self._base = base or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        key = self._lease(request)
        response = self._base.handle_request(self._with_key(request, key))
        self._observe(response, key)
        if not self._inspect(response, key) or not self._retry or not _replayable(request):
            return response
        try:
            again = self._lease(request)
        except LeaseError:
            return response  # no other key: the provider's refusal stands
        response.close()
        response = self._base.handle_request(self._with_key(request, again))
        self._observe(response, again)
        self._inspect(response, again)
        return response

    def close(self) -> None:
        """close sends the queued usage reports and closes base."""
        if self._usage:
            self._usage.close()
        self._base.close()

    def _lease(self, request: httpx.Request) -> _Leased:
        return self._cached() or self._lease_new(self._tokens(request))

    def _inspect(self, response: httpx.Response, key: _Leased) -> bool:
        if response.status_code not in _REPORTABLE:
            return False
        head = _peek(response, self._max_body)
        return self._report(response.status_code, response.headers, head, key)


class AsyncLeasedTransport(_Leaser, httpx.AsyncBaseTransport):
    """LeasedTransport for httpx.AsyncClient (openai.AsyncOpenAI, anthropic.AsyncAnthropic).

    It takes the same arguments, with base an httpx.AsyncBaseTransport
    (default httpx.AsyncHTTPTransport()). Broker calls run in a worker
    thread (asyncio.to_thread), so the event loop never waits on them.
    """

    def __init__(
        self,
        broker: KeyBroker,
        pool: str,
        *,
        auth: Auth = OPENAI_AUTH,
        base: httpx.AsyncBaseTransport | None = None,
        retry_on_key_failure: bool = False,
        lease_reuse: int | None = None,
        max_error_body: int = DEFAULT_MAX_ERROR_BODY,
        logger: logging.Logger | None = None,
        usage_reports: bool = True,
        estimate_tokens: Callable[[httpx.Request], int | None] | None = None,
    ):
        super().__init__(
            broker, pool, auth, retry_on_key_failure, lease_reuse, max_error_body, logger, usage_reports, estimate_tokens
        )
        self._base = base or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = await self._lease(request)
        response = await self._base.handle_async_request(self._with_key(request, key))
        self._observe(response, key)
        if not await self._inspect(response, key) or not self._retry or not _replayable(request):
            return response
        try:
            again = await self._lease(request)
        except LeaseError:
            return response
        await response.aclose()
        response = await self._base.handle_async_request(self._with_key(request, again))
        self._observe(response, again)
        await self._inspect(response, again)
        return response

    async def aclose(self) -> None:
        """aclose sends the queued usage reports (in a worker thread) and closes base."""
        if self._usage:
            await asyncio.to_thread(self._usage.close)
        await self._base.aclose()

    async def _lease(self, request: httpx.Request) -> _Leased:
        return self._cached() or await asyncio.to_thread(self._lease_new, self._tokens(request))

    async def _inspect(self, response: httpx.Response, key: _Leased) -> bool:
        if response.status_code not in _REPORTABLE:
            return False
        head = await _apeek(response, self._max_body)
        return await asyncio.to_thread(self._report, response.status_code, response.headers, head, key)


def _replayable(request: httpx.Request) -> bool:
    return isinstance(request.stream, httpx.ByteStream)


class _ReplayStream(httpx.SyncByteStream):
    """A response body whose first bytes were read to report them."""

    def __init__(self, head: bytes, rest: Iterator[bytes], original: httpx.SyncByteStream):
        self._head, self._rest, self._original = head, rest, original

    def __iter__(self) -> Iterator[bytes]:
        if self._head:
            yield self._head
        yield from self._rest

    def close(self) -> None:
        self._original.close()


def _peek(response: httpx.Response, limit: int) -> bytes:
    """Read up to limit bytes of the body and put them back in front of the rest."""
    original = response.stream
    it = iter(original)
    chunks, n = [], 0
    for chunk in it:
        chunks.append(chunk)
        n += len(chunk)
        if n >= limit:
            break
    head = b"".join(chunks)
    response.stream = _ReplayStream(head, it, original)
    return head[:limit]


class _AsyncReplayStream(httpx.AsyncByteStream):
    """An async response body whose first bytes were read to report them."""

    def __init__(self, head: bytes, rest: AsyncIterator[bytes], original: httpx.AsyncByteStream):
        self._head, self._rest, self._original = head, rest, original

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._head:
            yield self._head
        async for chunk in self._rest:
            yield chunk

    async def aclose(self) -> None:
        await self._original.aclose()


async def _apeek(response: httpx.Response, limit: int) -> bytes:
    """_peek for async bodies."""
    original = response.stream
    it = original.__aiter__()
    chunks, n = [], 0
    async for chunk in it:
        chunks.append(chunk)
        n += len(chunk)
        if n >= limit:
            break
    head = b"".join(chunks)
    response.stream = _AsyncReplayStream(head, it, original)
    return head[:limit]


def _decoded(headers, head: bytes) -> bytes:
    """The transport sees the body as sent: undo gzip or deflate for reading (others stay unread)."""
    enc = (headers.get("content-encoding") or "").strip().lower()
    try:
        if enc == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head)
        if enc == "deflate":
            return zlib.decompressobj().decompress(head)
    except zlib.error:
        return b""
    return head if enc in ("", "identity") else b""
