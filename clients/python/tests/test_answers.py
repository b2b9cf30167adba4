"""Sends every answer of the shared table through LeasedTransport.

clients/answers_test.go serves the answers of internal/failuretest at
UPSTREAM_URL/answer/{i}/..., runs a broker that records the reports at
KEYBROKER_ADDR, and checks that each report reads as the table says, as
the Go client and the worker must.
"""

import os
import unittest

import httpx

from keybroker_client import KeyBroker, LeasedTransport

ADDR = os.environ.get("KEYBROKER_ADDR")
UPSTREAM = os.environ.get("UPSTREAM_URL")
COUNT = int(os.environ.get("ANSWERS", "0"))


@unittest.skipUnless(ADDR and COUNT, "KEYBROKER_ADDR and ANSWERS are set by go test ./clients")
class AnswersTest(unittest.TestCase):
    def test_every_answer_goes_through_the_transport(self):
        with KeyBroker(ADDR) as kb, httpx.Client(transport=LeasedTransport(kb, "table")) as http:
            for i in range(COUNT):
                resp = http.post(f"{UPSTREAM}/answer/{i}/v1/chat/completions", content=b"{}")
                self.assertNotEqual(resp.status_code, 404, f"answer {i} is not served")
                resp.read()


if __name__ == "__main__":
    unittest.main()
