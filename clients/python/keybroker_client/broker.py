"""KeyBroker: the generated gRPC stub with the Go client's manners."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import grpc
from keybroker.v1 import keybroker_pb2 as pb
from keybroker.v1 import keybroker_pb2_grpc

from .errors import BrokerError


@dataclass(frozen=True)
class RetryPolicy:
    """RetryPolicy says how calls failing with UNAVAILABLE are retried.

    Calls refused with RESOURCE_EXHAUSTED NO_BUDGET (every key spent its
    rate-limit budget) are retried after exactly the broker's RetryInfo.
    max_backoff caps one wait and bounds the broker's RetryInfo: a longer
    requested wait (a pool cooling down for a minute, a budget window
    ending in 20s) is raised at once, so the caller decides instead of
    blocking.
    """

    max_attempts: int = 4
    initial_backoff: float = 0.05
    max_backoff: float = 1.0


DEFAULT_RETRY_POLICY = RetryPolicy()


class KeyBroker:
    """KeyBroker calls a keybroker. Make one per broker and share it.

    target is "host:port" or "unix:///path"; token, when set, is sent as
    "authorization: Bearer <token>"; timeout (seconds) bounds every call,
    retries included. Every method raises BrokerError on failure.
    """

    def __init__(
        self,
        target: str,
        *,
        token: str | None = None,
        timeout: float = 5.0,
        retry: RetryPolicy = DEFAULT_RETRY_POLICY,
        credentials: grpc.ChannelCredentials | None = None,
    ):
        if not target.strip():
            raise ValueError("keybroker: empty target; want host:port or unix:///path")
        self._channel = (
            grpc.secure_channel(target, credentials) if credentials else grpc.insecure_channel(target)
        )
        self.stub = keybroker_pb2_grpc.KeyBrokerServiceStub(self._channel)
        """stub is the generated stub, for the RPCs the methods below do not cover."""
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._timeout = timeout
        self._retry = retry

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "KeyBroker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def get_random(self, pool: str, *, estimated_tokens: int = 0, uses: int = 0) -> pb.GetRandomResponse:
        """get_random leases one active key of pool.

        On a pool with budgets, estimated_tokens (what the call will cost in
        provider tokens) is reserved from the key's token budget, and uses
        asks the lease to cover that many calls: lease.uses says how many it
        does, for lease.uses_valid_for from when the request was sent.
        """
        req = pb.GetRandomRequest(pool=pool, estimated_tokens=max(int(estimated_tokens), 0), uses=max(int(uses), 0))
        return self.call(self.stub.GetRandom, req)

    def add(self, pool: str, secrets: list[str]) -> pb.AddResponse:
        """add puts secrets into pool, idempotently."""
        return self.call(self.stub.Add, pb.AddRequest(pool=pool, secrets=secrets))

    def report_failure(self, req: pb.ReportFailureRequest) -> pb.ReportFailureResponse:
        """report_failure tells the broker what the provider said when it refused a leased key."""
        return self.call(self.stub.ReportFailure, req)

    def report_usage(self, req: pb.ReportUsageRequest) -> pb.ReportUsageResponse:
        """report_usage sends what providers' rate-limit headers said (the transports do it in the background)."""
        return self.call(self.stub.ReportUsage, req)

    def get_all(self, req: pb.GetAllRequest) -> pb.GetAllResponse:
        """get_all returns one page of a pool's keys."""
        return self.call(self.stub.GetAll, req)

    def call(self, method, request):
        """call runs one unary stub method with the deadline, token and retries."""
        deadline = time.monotonic() + self._timeout
        for attempt in range(1, max(self._retry.max_attempts, 1) + 1):
            try:
                return method(request, timeout=max(deadline - time.monotonic(), 0), metadata=self._metadata)
            except grpc.RpcError as rpc_err:
                err = BrokerError.from_rpc_error(rpc_err)
            if not _retriable(err) or attempt >= self._retry.max_attempts:
                raise err
            wait = self._wait(attempt, err)
            if wait is None or time.monotonic() + wait >= deadline:
                raise err
            time.sleep(wait)
        raise AssertionError("unreachable")

    def _wait(self, attempt: int, err: BrokerError) -> float | None:
        if err.retry_delay > 0:
            return err.retry_delay if err.retry_delay <= self._retry.max_backoff else None
        ceiling = min(self._retry.initial_backoff * 2 ** (attempt - 1), self._retry.max_backoff)
        return random.uniform(0, ceiling)


def _retriable(err: BrokerError) -> bool:
    """Waiting may help: UNAVAILABLE, and a pool's keys out of budget.

    RESOURCE_EXHAUSTED NO_BUDGET says when a key has budget again, and is
    retried only then.
    """
    if err.code == grpc.StatusCode.UNAVAILABLE:
        return True
    return (
        err.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        and err.reason_enum == pb.ERROR_REASON_NO_BUDGET
        and err.retry_delay > 0
    )
