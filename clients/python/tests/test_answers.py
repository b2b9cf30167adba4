"""Sends every answer of the shared table through LeasedTransport.

clients/answers_test.go serves the answers of internal/failuretest at
UPSTREAM_URL/answer/{i}/..., runs a broker that records the reports at
KEYBROKER_ADDR, and checks that each report reads as the table says, as
the Go client and the worker must.
"""

import asyncio
import os
import unittest

import httpx

from keybroker_client import AsyncLeasedTransport, KeyBroker, LeasedTransport

ADDR = os.environ.get("KEYBROKER_ADDR")
UPSTREAM = os.environ.get("UPSTREAM_URL")
COUNT = int(os.environ.get("ANSWERS", "0"))


@unittest.skipUnless(ADDR and COUNT, "KEYBROKER_ADDR and ANSWERS are set by go test ./clients")
class AnswersTest(unittest.TestCase):
    def test_every_answer_goes_through_the_transport(self):
        with KeyBroker(ADDR) as kb:
            transport = LeasedTransport(kb, "table")
            # Closing the client closes the transport, which sends the
            # usage reports still queued.
            with httpx.Client(transport=transport) as http:
                for i in range(COUNT):
                    resp = http.post(f"{UPSTREAM}/answer/{i}/v1/chat/completions", content=b"{}")
                    self.assertNotEqual(resp.status_code, 404, f"answer {i} is not served")
                    resp.read()
            self.assertEqual(transport.usage_stats().dropped, 0)

    def test_every_answer_goes_through_the_async_transport(self):
        async def calls(kb):
            transport = AsyncLeasedTransport(kb, "table")
            async with httpx.AsyncClient(transport=transport) as http:
                for i in range(COUNT):
                    resp = await http.post(f"{UPSTREAM}/answer/{i}/v1/chat/completions", content=b"{}")
                    self.assertNotEqual(resp.status_code, 404, f"answer {i} is not served")
                    await resp.aread()
            return transport.usage_stats()

        with KeyBroker(ADDR) as kb:
            self.assertEqual(asyncio.run(calls(kb)).dropped, 0)


if __name__ == "__main__":
    unittest.main()
