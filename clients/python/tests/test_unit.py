"""Tests with fake brokers, no real one needed.

A plain object stands in for KeyBroker and httpx.MockTransport for the
provider: the usage reporter's queue bound and batch size, failed batches
counted, and a reused lease's uses window. clients/clients_test.go runs
this module (TestPythonClientUnits).
"""

import logging
import threading
import time
import unittest

import httpx
from keybroker.v1 import keybroker_pb2 as pb

from keybroker_client import LeasedTransport, UsageStats
from keybroker_client.usage import BATCH, QUEUE, UsageReporter

SECRET = "sk-secret-never-logged-0001"
LOG = logging.getLogger("keybroker_client.test")


class FakeUsageBroker:
    """Records ReportUsage batch sizes; can hold each call until released, or fail it."""

    def __init__(self, hold=False, fail=False):
        self.batches = []
        self.entered = threading.Event()
        self.released = threading.Event()
        if not hold:
            self.released.set()
        self.fail = fail

    def report_usage(self, req):
        self.batches.append(len(req.usages))
        self.entered.set()
        self.released.wait(10)
        if self.fail:
            raise RuntimeError("broker says no")
        return pb.ReportUsageResponse(accepted_count=len(req.usages))


def usage(i):
    u = pb.Usage(lease_id=f"lease-{i}")
    u.requests.limit = 100
    u.requests.remaining = 50
    return u


class UsageReporterTest(unittest.TestCase):
    def test_limits_are_the_go_clients(self):
        self.assertEqual((QUEUE, BATCH), (4096, 500))

    def test_a_queue_of_1200_leaves_in_3_batches(self):
        kb = FakeUsageBroker()
        # A long flush interval: batches leave when full, the rest at close.
        r = UsageReporter(kb, "p", LOG, flush_interval=30)
        for i in range(1200):
            r.add(usage(i))
        r.close()
        self.assertEqual(kb.batches, [500, 500, 200])
        self.assertEqual(r.stats(), UsageStats(sent=1200, dropped=0, failed=0))

    def test_an_observation_finding_the_queue_full_is_dropped_and_counted(self):
        kb = FakeUsageBroker(hold=True)
        r = UsageReporter(kb, "p", LOG, flush_interval=30)
        # The first 500 leave and wait on the broker; the next 4096 fill
        # the queue; the 10 after them find it full.
        for i in range(500):
            r.add(usage(i))
        self.assertTrue(kb.entered.wait(10), "the first batch was not sent")
        started = time.monotonic()
        for i in range(4096 + 10):
            r.add(usage(i))
        self.assertLess(time.monotonic() - started, 5, "add blocked on a full queue")
        self.assertEqual(r.stats(), UsageStats(sent=0, dropped=10, failed=0))
        kb.released.set()
        r.close()
        self.assertTrue(all(n <= 500 for n in kb.batches), kb.batches)
        self.assertEqual(sum(kb.batches), 4596)
        self.assertEqual(r.stats(), UsageStats(sent=4596, dropped=10, failed=0))
        # Closed, it drops (and counts) what comes later.
        r.add(usage(0))
        self.assertEqual(r.stats().dropped, 11)


def answer_with_rate_limits(request):
    return httpx.Response(
        200, json={}, headers={"x-ratelimit-limit-requests": "100", "x-ratelimit-remaining-requests": "99"}
    )


def grant(n, *, uses=0, valid_for_ms=0):
    r = pb.GetRandomResponse(secret=SECRET, key_id="key-1", lease=pb.Lease(lease_id=f"lease-{n}", uses=uses))
    r.lease.expire_time.FromSeconds(int(time.time()) + 600)
    if valid_for_ms:
        r.lease.uses_valid_for.FromMilliseconds(valid_for_ms)
    return r


class FakeLeaseBroker(FakeUsageBroker):
    """Grants leases for uses calls valid for valid_for_ms, answering after answer_after seconds."""

    def __init__(self, uses=0, valid_for_ms=0, answer_after=0.0, **kw):
        super().__init__(**kw)
        self.leases = 0
        self.uses, self.valid_for_ms, self.answer_after = uses, valid_for_ms, answer_after

    def get_random(self, pool, *, estimated_tokens=0, uses=0):
        self.leases += 1
        if self.answer_after:
            time.sleep(self.answer_after)
        return grant(self.leases, uses=self.uses, valid_for_ms=self.valid_for_ms)

    def report_failure(self, req):
        return pb.ReportFailureResponse()


class FailedBatchTest(unittest.TestCase):
    def test_failed_usage_batches_are_counted_and_logged_without_secrets(self):
        kb = FakeLeaseBroker(fail=True)
        transport = LeasedTransport(kb, "p", base=httpx.MockTransport(answer_with_rate_limits), logger=LOG)
        http = httpx.Client(transport=transport)
        with self.assertLogs(LOG, logging.WARNING) as logs:
            for _ in range(3):
                self.assertEqual(http.get("http://provider.invalid/v1/models").status_code, 200)
            http.close()  # sends the queued observations
        self.assertEqual(transport.usage_stats(), UsageStats(sent=0, dropped=0, failed=3))
        self.assertEqual(sum(kb.batches), 3)
        self.assertTrue(any("report usage" in line and "pool=p" in line for line in logs.output), logs.output)
        self.assertFalse(any(SECRET in line for line in logs.output), logs.output)


class LeaseWindowTest(unittest.TestCase):
    def transport(self, kb):
        t = LeasedTransport(kb, "p", base=httpx.MockTransport(lambda r: httpx.Response(200)), lease_reuse=0, usage_reports=False)
        http = httpx.Client(transport=t)
        self.addCleanup(http.close)
        return http

    def test_a_reused_lease_is_not_used_after_uses_valid_for(self):
        # A window long enough that a stalled machine still reuses within it.
        kb = FakeLeaseBroker(uses=10, valid_for_ms=1000)
        http = self.transport(kb)
        http.get("http://provider.invalid/")
        http.get("http://provider.invalid/")
        self.assertEqual(kb.leases, 1, "within its window the lease is reused")
        time.sleep(1.1)
        http.get("http://provider.invalid/")
        self.assertEqual(kb.leases, 2, "after its window a request leases again")

    def test_uses_valid_for_counts_from_when_get_random_was_sent(self):
        # The broker answers after 60ms a grant valid for 50ms from the
        # request: it has lapsed by the time the next request comes.
        kb = FakeLeaseBroker(uses=10, valid_for_ms=50, answer_after=0.06)
        http = self.transport(kb)
        http.get("http://provider.invalid/")
        http.get("http://provider.invalid/")
        self.assertEqual(kb.leases, 2)


if __name__ == "__main__":
    unittest.main()
