"""The broker's errors with their details typed.

Debian has neither grpcio-status nor googleapis-common-protos, so the
google.rpc.Status in the grpc-status-details-bin trailer is decoded here
with the generated google.rpc types (gen/python).
"""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2, status_pb2
from keybroker.v1 import keybroker_pb2 as pb

DOMAIN = "keybroker"
"""DOMAIN is the ErrorInfo domain of the broker's own reasons."""

_DETAILS_KEY = "grpc-status-details-bin"


class BrokerError(Exception):
    """BrokerError is a failed broker call: its gRPC code, message and details.

    reason is ErrorInfo.reason ("POOL_EMPTY", "NO_HEALTHY_KEY",
    "LEASE_UNKNOWN", ...), "" when the broker gave none; retry_delay is
    RetryInfo.retry_delay in seconds, 0.0 when the broker did not say.
    """

    def __init__(self, code: grpc.StatusCode, message: str, details: list):
        super().__init__(f"keybroker: {code.name}: {message}")
        self.code = code
        self.message = message
        self.details = details
        self.error_info: error_details_pb2.ErrorInfo | None = _first(
            details, error_details_pb2.ErrorInfo, lambda d: d.domain == DOMAIN
        )
        self.retry_info: error_details_pb2.RetryInfo | None = _first(details, error_details_pb2.RetryInfo)
        self.bad_request: error_details_pb2.BadRequest | None = _first(details, error_details_pb2.BadRequest)

    @property
    def reason(self) -> str:
        return self.error_info.reason if self.error_info else ""

    @property
    def reason_enum(self) -> int:
        """reason_enum is the reason as the API's ErrorReason (pb.ERROR_REASON_POOL_EMPTY, ...).

        ErrorInfo.reason is the value's name without "ERROR_REASON_". It is
        ERROR_REASON_UNSPECIFIED for no reason or one this client does not
        know (a newer broker's): act on the gRPC code then.
        """
        if not self.reason or self.reason == "UNSPECIFIED":
            return pb.ERROR_REASON_UNSPECIFIED
        try:
            return pb.ErrorReason.Value("ERROR_REASON_" + self.reason)
        except ValueError:
            return pb.ERROR_REASON_UNSPECIFIED

    @property
    def retry_delay(self) -> float:
        if not self.retry_info or not self.retry_info.HasField("retry_delay"):
            return 0.0
        return self.retry_info.retry_delay.ToMilliseconds() / 1000.0

    @classmethod
    def from_rpc_error(cls, err: grpc.RpcError) -> "BrokerError":
        """from_rpc_error reads a grpc.RpcError raised by a stub call."""
        code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
        message = err.details() if hasattr(err, "details") else str(err)
        return cls(code, message or "", _decode_details(err))


def _decode_details(err: grpc.RpcError) -> list:
    trailers = err.trailing_metadata() if hasattr(err, "trailing_metadata") else None
    for key, value in trailers or ():
        if key != _DETAILS_KEY:
            continue
        st = status_pb2.Status.FromString(value)
        out = []
        for any_ in st.details:
            for typ in (error_details_pb2.ErrorInfo, error_details_pb2.RetryInfo, error_details_pb2.BadRequest):
                if any_.Is(typ.DESCRIPTOR):
                    msg = typ()
                    any_.Unpack(msg)
                    out.append(msg)
        return out
    return []


def _first(details, typ, cond=lambda d: True):
    return next((d for d in details if isinstance(d, typ) and cond(d)), None)
