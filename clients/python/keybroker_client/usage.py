"""Usage reporting: the rate-limit headers of every answer, sent in batches.

The transports read the rate-limit headers of every provider answer,
successes included, and a background thread sends them to the broker
(ReportUsage), so that the broker leases keys by the budget they have
left. A request never waits for it: an observation that finds the queue
full is dropped and counted. The same limits as the Go client's.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

from keybroker.v1 import keybroker_pb2 as pb

from .ratelimit import RateLimitWindow, read_rate_limits

QUEUE = 4096
"""Observations waiting to be sent."""
BATCH = 500
"""Observations per ReportUsage."""
FLUSH = 0.1
"""Longest (seconds) an observation waits for company."""
IDLE = 5.0
"""The sender thread ends after this long without work (a new observation starts another)."""

_STOP = object()


@dataclass(frozen=True)
class UsageStats:
    """How usage reporting went, in observations.

    sent: the broker took their batch; dropped: the queue was full (or the
    reporter closed); failed: their batch's ReportUsage failed (and was
    logged).
    """

    sent: int
    dropped: int
    failed: int = 0


def usage_of(headers, lease_id: str, now: float | None = None) -> pb.Usage | None:
    """What an answer's headers say about the key's windows; None when they say nothing."""
    rl = read_rate_limits(headers, now)
    if rl.requests is None and rl.tokens is None:
        return None
    u = pb.Usage(lease_id=lease_id)
    _fill(u.requests, rl.requests)
    _fill(u.tokens, rl.tokens)
    return u


def _fill(msg: pb.RateLimitWindow, w: RateLimitWindow | None) -> None:
    if w is None:
        return
    msg.SetInParent()
    if w.limit is not None:
        msg.limit = w.limit
    if w.remaining is not None:
        msg.remaining = w.remaining
    if w.reset > 0:
        msg.reset_after.FromNanoseconds(int(w.reset * 1e9))


class UsageReporter:
    """Batches one pool's observations and sends them from a daemon thread.

    A batch leaves FLUSH seconds after its first observation or when it
    holds BATCH; the thread ends after IDLE seconds without work, so an
    idle transport holds no thread. close() sends what is queued (waiting
    up to timeout seconds) and drops, counting them, later observations.
    A batch that fails is logged (pool and count, never a key) and counted
    as failed. flush_interval replaces FLUSH (tests).
    """

    def __init__(self, broker, pool: str, logger: logging.Logger, *, flush_interval: float = FLUSH):
        self._kb = broker
        self._pool = pool
        self._log = logger
        self._flush = flush_interval
        self._q: queue.Queue = queue.Queue(maxsize=QUEUE)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._sent = 0
        self._dropped = 0
        self._failed = 0

    def add(self, usage: pb.Usage, at: float | None = None) -> None:
        """add queues an observation without ever blocking; a full queue drops it."""
        if self._closed:
            self._count_drop()
            return
        try:
            self._q.put_nowait((usage, time.monotonic() if at is None else at))
        except queue.Full:
            self._count_drop()
            return
        with self._lock:
            # Started under the lock that _loop ends under: an observation
            # queued while the thread gives up is seen by one or the other.
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=f"keybroker-usage-{self._pool}", daemon=True)
                self._thread.start()

    def stats(self) -> UsageStats:
        with self._lock:
            return UsageStats(self._sent, self._dropped, self._failed)

    def close(self, timeout: float = 10.0) -> None:
        """close sends what is queued and stops; observations added later are dropped."""
        with self._lock:
            self._closed = True
            t = self._thread
        if t is None:
            return
        try:
            self._q.put(_STOP, timeout=timeout)
        except queue.Full:
            return
        t.join(timeout)

    def _count_drop(self) -> None:
        with self._lock:
            self._dropped += 1

    def _loop(self) -> None:
        while True:
            batch, stop = self._collect()
            if batch:
                self._send(batch)
            if stop:
                self._drain()
                return
            if not batch:
                with self._lock:
                    if self._q.empty():
                        self._thread = None
                        return

    def _collect(self) -> tuple[list, bool]:
        """Wait for a first observation (up to IDLE), then more for up to the flush interval or a full batch."""
        try:
            first = self._q.get(timeout=IDLE)
        except queue.Empty:
            return [], False
        if first is _STOP:
            return [], True
        batch = [first]
        deadline = time.monotonic() + self._flush
        while len(batch) < BATCH:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                item = self._q.get(timeout=left)
            except queue.Empty:
                break
            if item is _STOP:
                return batch, True
            batch.append(item)
        return batch, False

    def _drain(self) -> None:
        """Send what is left after close, in batches."""
        batch = []
        while True:
            try:
                item = self._q.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                batch.append(item)
            if len(batch) >= BATCH:
                self._send(batch)
                batch = []
        if batch:
            self._send(batch)
        with self._lock:
            self._thread = None

    def _send(self, batch: list) -> None:
        now = time.monotonic()
        usages = []
        for usage, at in batch:
            usage.age.FromNanoseconds(int(max(now - at, 0.0) * 1e9))
            usages.append(usage)
        try:
            self._kb.report_usage(pb.ReportUsageRequest(pool=self._pool, usages=usages))
        except Exception as err:  # noqa: BLE001 - a failed batch must not end the sender
            self._log.warning("keybroker: report usage: pool=%s observations=%d: %s", self._pool, len(batch), err)
            with self._lock:
                self._failed += len(batch)
            return
        with self._lock:
            self._sent += len(batch)
