"""Tests against a real broker (real Redis) and a fake provider.

clients/clients_test.go (go test ./clients) starts both and passes their
addresses in KEYBROKER_ADDR and UPSTREAM_URL. The fake provider answers
like OpenAI, by key: sk-rate-* is rate limited (429, Retry-After: 30),
sk-dead-* is refused (401 invalid_api_key), sk-down-* gets a 503, any
other key is served.

The official openai and anthropic SDKs are not packaged by Debian (and
PyPI is not reachable where these run), so the SDK switch is tested with
plain httpx.Client(transport=...), which is exactly what the SDKs take as
http_client.
"""

import asyncio
import os
import time
import unittest

import grpc
import httpx
from keybroker.v1 import keybroker_pb2 as pb

from keybroker_client import (
    ANTHROPIC_AUTH,
    GEMINI_AUTH,
    AsyncLeasedTransport,
    BrokerError,
    KeyBroker,
    LeasedTransport,
    LeaseError,
    RetryPolicy,
    UsageStats,
)

ADDR = os.environ.get("KEYBROKER_ADDR")
UPSTREAM = os.environ.get("UPSTREAM_URL")


@unittest.skipUnless(ADDR and UPSTREAM, "KEYBROKER_ADDR and UPSTREAM_URL are set by go test ./clients")
class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.kb = KeyBroker(ADDR)

    @classmethod
    def tearDownClass(cls):
        cls.kb.close()

    def keys(self, pool):
        page = self.kb.get_all(pb.GetAllRequest(pool=pool, page_size=1000))
        return {k.key_id: k for k in page.keys}

    def http(self, pool, **kw):
        client = httpx.Client(transport=LeasedTransport(self.kb, pool, **kw))
        self.addCleanup(client.close)
        return client

    def test_add_and_lease(self):
        added = self.kb.add("py-lease", ["sk-good-py-0000000000000001"])
        self.assertEqual(added.added_count, 1)
        r = self.kb.get_random("py-lease")
        self.assertEqual(r.key_id, added.key_ids[0])
        self.assertEqual(r.secret, "sk-good-py-0000000000000001")
        self.assertTrue(r.lease.lease_id)

    def test_sdk_style_client_calls_provider_with_leased_key(self):
        self.kb.add("py-sdk", ["sk-good-py-0000000000000002"])
        # What openai.OpenAI(http_client=...) does with it: a placeholder key
        # in Authorization, a POST to /v1/chat/completions.
        http = self.http("py-sdk")
        resp = http.post(
            f"{UPSTREAM}/v1/chat/completions",
            headers={"Authorization": "Bearer leased-by-keybroker"},
            json={"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]},
        )
        self.assertEqual(resp.status_code, 200)
        self.assertEqual(resp.json()["choices"][0]["message"]["content"], "served with authorization")

    def test_keys_are_presented_as_each_provider_expects(self):
        self.kb.add("py-auth", ["sk-good-py-0000000000000003"])
        for auth, header in ((ANTHROPIC_AUTH, "x-api-key"), (GEMINI_AUTH, "x-goog-api-key")):
            resp = self.http("py-auth", auth=auth).post(
                f"{UPSTREAM}/v1/messages", headers={"x-api-key": "placeholder"}, content=b"{}"
            )
            self.assertEqual(resp.status_code, 200)
            self.assertEqual(resp.json()["auth"], header)

    def test_429_cools_key_down_and_retry_info_says_how_long(self):
        (key_id,) = self.kb.add("py-rate", ["sk-rate-py-0000000000000004"]).key_ids
        resp = self.http("py-rate").post(f"{UPSTREAM}/v1/chat/completions", content=b"{}")
        self.assertEqual(resp.status_code, 429)
        # The caller still reads the provider's whole answer.
        self.assertEqual(resp.json()["error"]["code"], "rate_limit_exceeded")

        k = self.keys("py-rate")[key_id]
        self.assertEqual(k.state, pb.KEY_STATE_COOLING_DOWN)
        self.assertEqual(k.last_failure_kind, pb.FAILURE_KIND_RATE_LIMITED)
        self.assertGreater(k.state_until.ToSeconds(), time.time() + 20, "cooling down for about 30s")

        # Every key cools down: the broker says when to come back. The wait is
        # longer than the retry policy's max_backoff, so it is raised at once.
        with self.assertRaises(BrokerError) as cm:
            self.kb.get_random("py-rate")
        err = cm.exception
        self.assertEqual(err.code, grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(err.reason, "NO_HEALTHY_KEY")
        self.assertEqual(err.reason_enum, pb.ERROR_REASON_NO_HEALTHY_KEY)
        self.assertEqual(err.error_info.domain, "keybroker")
        self.assertTrue(20 < err.retry_delay <= 30, f"retry delay {err.retry_delay}s, want about 30s")

        # Through the transport it is a LeaseError with the same details.
        with self.assertRaises(LeaseError) as cm:
            self.http("py-rate").get(f"{UPSTREAM}/v1/models")
        self.assertEqual(cm.exception.reason, "NO_HEALTHY_KEY")
        self.assertGreater(cm.exception.retry_delay, 20)

    def test_async_transport_serves_and_reports(self):
        # What openai.AsyncOpenAI(http_client=httpx.AsyncClient(transport=...)) does.
        self.kb.add("py-async", ["sk-good-py-0000000000000011"])
        (rate,) = self.kb.add("py-async-rate", ["sk-rate-py-0000000000000012"]).key_ids

        async def calls():
            async with httpx.AsyncClient(transport=AsyncLeasedTransport(self.kb, "py-async")) as ok, httpx.AsyncClient(
                transport=AsyncLeasedTransport(self.kb, "py-async-rate")
            ) as limited:
                served = await ok.post(f"{UPSTREAM}/v1/chat/completions", content=b"{}")
                refused = await limited.post(f"{UPSTREAM}/v1/chat/completions", content=b"{}")
                return served.status_code, served.json(), refused.status_code, refused.json()

        status, body, refused_status, refused_body = asyncio.run(calls())
        self.assertEqual(status, 200)
        self.assertEqual(body["choices"][0]["message"]["content"], "served with authorization")
        self.assertEqual(refused_status, 429)
        self.assertEqual(refused_body["error"]["code"], "rate_limit_exceeded")
        self.assertEqual(self.keys("py-async-rate")[rate].state, pb.KEY_STATE_COOLING_DOWN)

    def test_retries_honour_retry_info(self):
        # The only key cools down for 2s. A client whose retry policy allows
        # waits that long is told so by RetryInfo, waits, and gets the key;
        # its own backoff alone (50ms, 100ms, 200ms) would give up first.
        (key_id,) = self.kb.add("py-wait", ["sk-good-py-0000000000000010"]).key_ids
        req = pb.ReportFailureRequest(pool="py-wait", key_id=key_id, http_status=429, error_code="rate_limit_exceeded")
        req.retry_after.FromSeconds(2)
        self.assertEqual(self.kb.report_failure(req).state, pb.KEY_STATE_COOLING_DOWN)
        with KeyBroker(ADDR, retry=RetryPolicy(max_attempts=4, initial_backoff=0.05, max_backoff=5.0)) as patient:
            self.assertEqual(patient.get_random("py-wait").key_id, key_id)

    def test_invalid_lease_is_refused_with_the_right_reason(self):
        self.kb.add("py-invalid", ["sk-good-py-0000000000000005"])
        self.kb.add("py-other", ["sk-good-py-0000000000000015"])
        other = self.kb.get_random("py-other")
        with self.assertRaises(BrokerError) as cm:
            self.kb.report_failure(
                pb.ReportFailureRequest(pool="py-invalid", lease_id=other.lease.lease_id, http_status=429)
            )
        self.assertEqual(cm.exception.code, grpc.StatusCode.NOT_FOUND)
        self.assertEqual(cm.exception.reason_enum, pb.ERROR_REASON_LEASE_UNKNOWN)

        with self.assertRaises(BrokerError) as cm:
            self.kb.report_failure(pb.ReportFailureRequest(pool="py-invalid", lease_id="not-a-lease", http_status=429))
        self.assertEqual(cm.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(cm.exception.bad_request.field_violations[0].field, "lease_id")

    def test_empty_pool_is_pool_empty(self):
        with self.assertRaises(BrokerError) as cm:
            self.kb.get_random("py-empty")
        self.assertEqual(cm.exception.code, grpc.StatusCode.FAILED_PRECONDITION)
        self.assertEqual(cm.exception.reason_enum, pb.ERROR_REASON_POOL_EMPTY)
        self.assertEqual(BrokerError(grpc.StatusCode.UNKNOWN, "", []).reason_enum, pb.ERROR_REASON_UNSPECIFIED)

    def test_5xx_is_never_reported(self):
        (key_id,) = self.kb.add("py-5xx", ["sk-down-py-0000000000000006"]).key_ids
        self.assertEqual(self.http("py-5xx").get(f"{UPSTREAM}/v1/chat/completions").status_code, 503)
        k = self.keys("py-5xx")[key_id]
        self.assertEqual(k.state, pb.KEY_STATE_ACTIVE)
        self.assertEqual(k.failure_count, 0)

    def test_refused_key_is_parked_and_request_sent_again_with_another(self):
        (dead,) = self.kb.add("py-retry", ["sk-dead-py-0000000000000007"]).key_ids
        self.kb.add("py-retry", ["sk-good-py-0000000000000008"])
        http = self.http("py-retry", retry_on_key_failure=True)
        for _ in range(20):
            if self.keys("py-retry")[dead].state != pb.KEY_STATE_ACTIVE:
                break
            self.assertEqual(http.post(f"{UPSTREAM}/v1/chat/completions", content=b"{}").status_code, 200)
        self.assertEqual(self.keys("py-retry")[dead].state, pb.KEY_STATE_SUSPECT)

    def test_with_no_other_key_the_refusal_stands(self):
        self.kb.add("py-alone", ["sk-dead-py-0000000000000017"])
        resp = self.http("py-alone", retry_on_key_failure=True).post(f"{UPSTREAM}/v1/chat/completions", content=b"{}")
        self.assertEqual(resp.status_code, 401)
        self.assertEqual(resp.json()["error"]["code"], "invalid_api_key")

    def test_reused_lease_costs_one_get_random_for_many_requests(self):
        self.kb.add("py-reuse", ["sk-good-py-0000000000000009"])
        kb = self.kb

        class Counting:
            """The broker counts leases in memory, so count the client's calls."""

            leases = 0

            def get_random(self, pool, **kw):
                Counting.leases += 1
                return kb.get_random(pool, **kw)

            def report_failure(self, req):
                return kb.report_failure(req)

            def report_usage(self, req):
                return kb.report_usage(req)

        http = httpx.Client(transport=LeasedTransport(Counting(), "py-reuse", lease_reuse=3))
        self.addCleanup(http.close)
        for _ in range(6):
            self.assertEqual(http.get(f"{UPSTREAM}/v1/models").status_code, 200)
        self.assertEqual(Counting.leases, 2)

    # Budgets (docs/budgets.md). clients_test.go declares py-budget and
    # py-budget-uses (3 calls a minute), py-budget-short (1 call per 1s
    # window) and py-budget-tokens (1000 tokens a minute); other pools
    # learn their limits from the usage the clients report.

    def refusing(self):
        kb = KeyBroker(ADDR, retry=RetryPolicy(max_attempts=1))
        self.addCleanup(kb.close)
        return kb

    def test_usage_reports_teach_the_broker_a_keys_limits(self):
        (key_id,) = self.kb.add("py-learn", ["sk-rl-py-0000000000000020"]).key_ids
        (off,) = self.kb.add("py-learn-off", ["sk-rl-py-0000000000000021"]).key_ids
        reporting = LeasedTransport(self.kb, "py-learn")
        quiet = LeasedTransport(self.kb, "py-learn-off", usage_reports=False)
        with httpx.Client(transport=reporting) as a, httpx.Client(transport=quiet) as b:
            self.assertEqual(a.post(f"{UPSTREAM}/v1/chat/completions", content=b"{}").status_code, 200)
            self.assertEqual(b.post(f"{UPSTREAM}/v1/chat/completions", content=b"{}").status_code, 200)
        # Closing the clients sent the queued reports.
        self.assertEqual(reporting.usage_stats(), UsageStats(sent=1, dropped=0, failed=0))
        self.assertEqual(quiet.usage_stats(), UsageStats(sent=0, dropped=0, failed=0))
        # Replicas load learned limits in the background: give it a few seconds.
        for _ in range(50):
            k = self.keys("py-learn")[key_id]
            if k.HasField("budget"):
                break
            time.sleep(0.1)
        self.assertEqual(k.budget.source, "learned")
        self.assertEqual(k.budget.requests_limit, 1000)
        self.assertEqual(k.budget.tokens_limit, 50000)
        self.assertFalse(self.keys("py-learn-off")[off].HasField("budget"), "a pool without reports learned nothing")

    def test_burst_beyond_the_budget_is_refused_with_no_budget(self):
        self.kb.add("py-budget", ["sk-good-py-0000000000000022"])
        http = httpx.Client(transport=LeasedTransport(self.refusing(), "py-budget"))
        self.addCleanup(http.close)
        err = None
        for _ in range(10):
            try:
                http.get(f"{UPSTREAM}/v1/models")
            except LeaseError as e:
                err = e
                break
        self.assertIsNotNone(err, "no refusal in 10 calls on a pool of 3 a minute")
        self.assertEqual(err.cause.code, grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertEqual(err.reason, "NO_BUDGET")
        self.assertEqual(err.reason_enum, pb.ERROR_REASON_NO_BUDGET)
        self.assertTrue(0 < err.retry_delay <= 60, f"retry delay {err.retry_delay}s, want within the minute")
        # The default policy does not wait that long (unless the minute is
        # about to end): it raises the refusal at once.
        started = time.monotonic()
        with self.assertRaises(BrokerError) as cm:
            self.kb.get_random("py-budget")
        if cm.exception.retry_delay > 1:
            self.assertLess(time.monotonic() - started, 0.5, "waited for a RetryInfo beyond max_backoff")
        self.assertEqual(cm.exception.reason, "NO_BUDGET")

    def test_no_budget_is_retried_after_a_short_retry_info(self):
        self.kb.add("py-budget-short", ["sk-good-py-0000000000000023"])
        refusing = self.refusing()
        try:
            refusing.get_random("py-budget-short")
        except BrokerError:
            pass
        with self.assertRaises(BrokerError) as cm:
            refusing.get_random("py-budget-short")
        self.assertEqual(cm.exception.reason, "NO_BUDGET")
        self.assertLessEqual(cm.exception.retry_delay, 1.0)
        # The default client waits each refusal's RetryInfo, so three leases
        # in a row all succeed, the last two in later windows.
        started = time.monotonic()
        for _ in range(3):
            self.kb.get_random("py-budget-short")
        self.assertGreaterEqual(time.monotonic() - started, 0.9)

    def test_estimated_tokens_are_reserved_from_the_token_budget(self):
        self.kb.add("py-budget-tokens", ["sk-good-py-0000000000000024"])
        refusing = self.refusing()
        big = httpx.Client(transport=LeasedTransport(refusing, "py-budget-tokens", estimate_tokens=lambda req: 5000))
        small = httpx.Client(
            transport=LeasedTransport(
                refusing, "py-budget-tokens", estimate_tokens=lambda req: 10 if req.method == "POST" else None
            )
        )
        self.addCleanup(big.close)
        self.addCleanup(small.close)
        with self.assertRaises(LeaseError) as cm:
            big.post(f"{UPSTREAM}/v1/chat/completions", content=b"{}")
        self.assertEqual(cm.exception.reason, "NO_BUDGET", "a call estimated beyond the key's 1000 tokens a minute")
        self.assertEqual(small.post(f"{UPSTREAM}/v1/chat/completions", content=b"{}").status_code, 200)

    def test_reused_lease_serves_no_more_calls_than_granted(self):
        self.kb.add("py-budget-uses", ["sk-good-py-0000000000000025"])
        refusing = self.refusing()
        asked, granted = [], []

        class Counting:
            def get_random(self, pool, **kw):
                asked.append(kw)
                r = refusing.get_random(pool, **kw)
                granted.append(r.lease.uses)
                return r

            def report_failure(self, req):
                return refusing.report_failure(req)

            def report_usage(self, req):
                return refusing.report_usage(req)

        http = httpx.Client(transport=LeasedTransport(Counting(), "py-budget-uses", lease_reuse=0))
        self.addCleanup(http.close)
        served = 0
        for _ in range(6):
            if len(asked) > 1:
                break
            try:
                resp = http.get(f"{UPSTREAM}/v1/models")
            except LeaseError:
                continue
            if len(asked) == 1:
                self.assertEqual(resp.status_code, 200)
                served += 1
        self.assertEqual(asked[0]["uses"], 32, "a reusing transport asks for 32 uses")
        self.assertTrue(1 <= granted[0] <= 3, f"granted {granted[0]} uses of a 3-a-minute key")
        self.assertEqual(served, granted[0], "the lease served exactly the uses the broker granted")

if __name__ == "__main__":
    unittest.main()
