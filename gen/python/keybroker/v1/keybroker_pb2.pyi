from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
ERROR_REASON_KEY_UNKNOWN: ErrorReason
ERROR_REASON_LEASE_EXPIRED: ErrorReason
ERROR_REASON_LEASE_UNKNOWN: ErrorReason
ERROR_REASON_NO_BUDGET: ErrorReason
ERROR_REASON_NO_HEALTHY_KEY: ErrorReason
ERROR_REASON_POOL_EMPTY: ErrorReason
ERROR_REASON_POOL_NOT_EMPTY: ErrorReason
ERROR_REASON_POOL_UNKNOWN: ErrorReason
ERROR_REASON_REPORTS_RATE_LIMITED: ErrorReason
ERROR_REASON_STORE_UNAVAILABLE: ErrorReason
ERROR_REASON_UNSPECIFIED: ErrorReason
FAILURE_KIND_INVALID_KEY: FailureKind
FAILURE_KIND_PERMISSION_DENIED: FailureKind
FAILURE_KIND_QUOTA_EXHAUSTED: FailureKind
FAILURE_KIND_RATE_LIMITED: FailureKind
FAILURE_KIND_TRANSIENT: FailureKind
FAILURE_KIND_UNCLASSIFIED: FailureKind
FAILURE_KIND_UNSPECIFIED: FailureKind
KEY_STATE_ACTIVE: KeyState
KEY_STATE_COOLING_DOWN: KeyState
KEY_STATE_DISABLED: KeyState
KEY_STATE_QUARANTINED: KeyState
KEY_STATE_REMOVED: KeyState
KEY_STATE_SUSPECT: KeyState
KEY_STATE_UNSPECIFIED: KeyState

class AddRequest(_message.Message):
    __slots__ = ["pool", "secrets", "tiers", "weights"]
    POOL_FIELD_NUMBER: _ClassVar[int]
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    TIERS_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    pool: str
    secrets: _containers.RepeatedScalarFieldContainer[str]
    tiers: _containers.RepeatedScalarFieldContainer[str]
    weights: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, pool: _Optional[str] = ..., secrets: _Optional[_Iterable[str]] = ..., weights: _Optional[_Iterable[int]] = ..., tiers: _Optional[_Iterable[str]] = ...) -> None: ...

class AddResponse(_message.Message):
    __slots__ = ["added_count", "key_ids", "present_count"]
    ADDED_COUNT_FIELD_NUMBER: _ClassVar[int]
    KEY_IDS_FIELD_NUMBER: _ClassVar[int]
    PRESENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    added_count: int
    key_ids: _containers.RepeatedScalarFieldContainer[str]
    present_count: int
    def __init__(self, added_count: _Optional[int] = ..., present_count: _Optional[int] = ..., key_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class DeletePoolRequest(_message.Message):
    __slots__ = ["force", "pool"]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    force: bool
    pool: str
    def __init__(self, pool: _Optional[str] = ..., force: bool = ...) -> None: ...

class DeletePoolResponse(_message.Message):
    __slots__ = ["removed_count"]
    REMOVED_COUNT_FIELD_NUMBER: _ClassVar[int]
    removed_count: int
    def __init__(self, removed_count: _Optional[int] = ...) -> None: ...

class GetAllRequest(_message.Message):
    __slots__ = ["page_size", "page_token", "pool", "reveal", "state"]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    REVEAL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    pool: str
    reveal: bool
    state: KeyState
    def __init__(self, pool: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., state: _Optional[_Union[KeyState, str]] = ..., reveal: bool = ...) -> None: ...

class GetAllResponse(_message.Message):
    __slots__ = ["counts", "keys", "next_page_token", "removal_hold"]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REMOVAL_HOLD_FIELD_NUMBER: _ClassVar[int]
    counts: PoolCounts
    keys: _containers.RepeatedCompositeFieldContainer[Key]
    next_page_token: str
    removal_hold: RemovalHold
    def __init__(self, keys: _Optional[_Iterable[_Union[Key, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., counts: _Optional[_Union[PoolCounts, _Mapping]] = ..., removal_hold: _Optional[_Union[RemovalHold, _Mapping]] = ...) -> None: ...

class GetKeyHistoryRequest(_message.Message):
    __slots__ = ["key_id", "page_size", "page_token", "pool"]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    page_size: int
    page_token: str
    pool: str
    def __init__(self, pool: _Optional[str] = ..., key_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class GetKeyHistoryResponse(_message.Message):
    __slots__ = ["events", "next_page_token"]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[KeyEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[KeyEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetRandomRequest(_message.Message):
    __slots__ = ["estimated_tokens", "pool", "uses"]
    ESTIMATED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    USES_FIELD_NUMBER: _ClassVar[int]
    estimated_tokens: int
    pool: str
    uses: int
    def __init__(self, pool: _Optional[str] = ..., estimated_tokens: _Optional[int] = ..., uses: _Optional[int] = ...) -> None: ...

class GetRandomResponse(_message.Message):
    __slots__ = ["key_id", "lease", "secret"]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    lease: Lease
    secret: str
    def __init__(self, secret: _Optional[str] = ..., key_id: _Optional[str] = ..., lease: _Optional[_Union[Lease, _Mapping]] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ["pools", "start_time", "store_reachable", "version", "worker"]
    POOLS_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    STORE_REACHABLE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    pools: _containers.RepeatedCompositeFieldContainer[PoolSummary]
    start_time: _timestamp_pb2.Timestamp
    store_reachable: bool
    version: str
    worker: WorkerStatus
    def __init__(self, version: _Optional[str] = ..., store_reachable: bool = ..., worker: _Optional[_Union[WorkerStatus, _Mapping]] = ..., pools: _Optional[_Iterable[_Union[PoolSummary, _Mapping]]] = ..., start_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Key(_message.Message):
    __slots__ = ["add_time", "balance", "budget", "failure_count", "key_id", "last_failure_kind", "last_used_time", "last_validated_time", "lease_count", "masked_secret", "reason", "secret", "state", "state_until"]
    ADD_TIME_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    FAILURE_COUNT_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_FAILURE_KIND_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_VALIDATED_TIME_FIELD_NUMBER: _ClassVar[int]
    LEASE_COUNT_FIELD_NUMBER: _ClassVar[int]
    MASKED_SECRET_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_UNTIL_FIELD_NUMBER: _ClassVar[int]
    add_time: _timestamp_pb2.Timestamp
    balance: KeyBalance
    budget: KeyBudget
    failure_count: int
    key_id: str
    last_failure_kind: FailureKind
    last_used_time: _timestamp_pb2.Timestamp
    last_validated_time: _timestamp_pb2.Timestamp
    lease_count: int
    masked_secret: str
    reason: str
    secret: str
    state: KeyState
    state_until: _timestamp_pb2.Timestamp
    def __init__(self, key_id: _Optional[str] = ..., masked_secret: _Optional[str] = ..., secret: _Optional[str] = ..., state: _Optional[_Union[KeyState, str]] = ..., reason: _Optional[str] = ..., state_until: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., add_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., last_used_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., last_validated_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., lease_count: _Optional[int] = ..., failure_count: _Optional[int] = ..., last_failure_kind: _Optional[_Union[FailureKind, str]] = ..., balance: _Optional[_Union[KeyBalance, _Mapping]] = ..., budget: _Optional[_Union[KeyBudget, _Mapping]] = ...) -> None: ...

class KeyBalance(_message.Message):
    __slots__ = ["check_time", "expire_time", "limit_usd", "used_usd"]
    CHECK_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    LIMIT_USD_FIELD_NUMBER: _ClassVar[int]
    USED_USD_FIELD_NUMBER: _ClassVar[int]
    check_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    limit_usd: float
    used_usd: float
    def __init__(self, limit_usd: _Optional[float] = ..., used_usd: _Optional[float] = ..., expire_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., check_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class KeyBudget(_message.Message):
    __slots__ = ["requests_limit", "requests_remaining", "reset_time", "source", "tokens_limit", "tokens_remaining"]
    REQUESTS_LIMIT_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_REMAINING_FIELD_NUMBER: _ClassVar[int]
    RESET_TIME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TOKENS_LIMIT_FIELD_NUMBER: _ClassVar[int]
    TOKENS_REMAINING_FIELD_NUMBER: _ClassVar[int]
    requests_limit: int
    requests_remaining: int
    reset_time: _timestamp_pb2.Timestamp
    source: str
    tokens_limit: int
    tokens_remaining: int
    def __init__(self, requests_limit: _Optional[int] = ..., requests_remaining: _Optional[int] = ..., tokens_limit: _Optional[int] = ..., tokens_remaining: _Optional[int] = ..., reset_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., source: _Optional[str] = ...) -> None: ...

class KeyEvent(_message.Message):
    __slots__ = ["actor", "key_id", "previous_state", "reason", "state", "state_until", "time"]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_UNTIL_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    actor: str
    key_id: str
    previous_state: KeyState
    reason: str
    state: KeyState
    state_until: _timestamp_pb2.Timestamp
    time: _timestamp_pb2.Timestamp
    def __init__(self, time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., key_id: _Optional[str] = ..., previous_state: _Optional[_Union[KeyState, str]] = ..., state: _Optional[_Union[KeyState, str]] = ..., reason: _Optional[str] = ..., actor: _Optional[str] = ..., state_until: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Lease(_message.Message):
    __slots__ = ["expire_time", "lease_id", "uses", "uses_valid_for"]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    USES_FIELD_NUMBER: _ClassVar[int]
    USES_VALID_FOR_FIELD_NUMBER: _ClassVar[int]
    expire_time: _timestamp_pb2.Timestamp
    lease_id: str
    uses: int
    uses_valid_for: _duration_pb2.Duration
    def __init__(self, lease_id: _Optional[str] = ..., expire_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., uses: _Optional[int] = ..., uses_valid_for: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ListPoolsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListPoolsResponse(_message.Message):
    __slots__ = ["pools"]
    POOLS_FIELD_NUMBER: _ClassVar[int]
    pools: _containers.RepeatedCompositeFieldContainer[PoolSummary]
    def __init__(self, pools: _Optional[_Iterable[_Union[PoolSummary, _Mapping]]] = ...) -> None: ...

class PoolCounts(_message.Message):
    __slots__ = ["active", "cooling_down", "disabled", "quarantined", "suspect", "total"]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    COOLING_DOWN_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    QUARANTINED_FIELD_NUMBER: _ClassVar[int]
    SUSPECT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    active: int
    cooling_down: int
    disabled: int
    quarantined: int
    suspect: int
    total: int
    def __init__(self, total: _Optional[int] = ..., active: _Optional[int] = ..., cooling_down: _Optional[int] = ..., suspect: _Optional[int] = ..., disabled: _Optional[int] = ..., quarantined: _Optional[int] = ...) -> None: ...

class PoolSummary(_message.Message):
    __slots__ = ["counts", "pool", "removal_hold"]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    REMOVAL_HOLD_FIELD_NUMBER: _ClassVar[int]
    counts: PoolCounts
    pool: str
    removal_hold: RemovalHold
    def __init__(self, pool: _Optional[str] = ..., counts: _Optional[_Union[PoolCounts, _Mapping]] = ..., removal_hold: _Optional[_Union[RemovalHold, _Mapping]] = ...) -> None: ...

class RateLimitWindow(_message.Message):
    __slots__ = ["limit", "remaining", "reset_after"]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    RESET_AFTER_FIELD_NUMBER: _ClassVar[int]
    limit: int
    remaining: int
    reset_after: _duration_pb2.Duration
    def __init__(self, limit: _Optional[int] = ..., remaining: _Optional[int] = ..., reset_after: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ReleaseRemovalsRequest(_message.Message):
    __slots__ = ["pool"]
    POOL_FIELD_NUMBER: _ClassVar[int]
    pool: str
    def __init__(self, pool: _Optional[str] = ...) -> None: ...

class ReleaseRemovalsResponse(_message.Message):
    __slots__ = ["quarantined_count", "quarantined_key_ids"]
    QUARANTINED_COUNT_FIELD_NUMBER: _ClassVar[int]
    QUARANTINED_KEY_IDS_FIELD_NUMBER: _ClassVar[int]
    quarantined_count: int
    quarantined_key_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, quarantined_count: _Optional[int] = ..., quarantined_key_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class RemovalHold(_message.Message):
    __slots__ = ["held", "held_count", "max_removals", "reason", "recent_count", "removal_window", "since"]
    HELD_COUNT_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    MAX_REMOVALS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RECENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    REMOVAL_WINDOW_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    held: bool
    held_count: int
    max_removals: str
    reason: str
    recent_count: int
    removal_window: _duration_pb2.Duration
    since: _timestamp_pb2.Timestamp
    def __init__(self, held: bool = ..., held_count: _Optional[int] = ..., reason: _Optional[str] = ..., since: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., recent_count: _Optional[int] = ..., max_removals: _Optional[str] = ..., removal_window: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class RemoveRequest(_message.Message):
    __slots__ = ["key_ids", "pool", "secrets"]
    KEY_IDS_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    key_ids: _containers.RepeatedScalarFieldContainer[str]
    pool: str
    secrets: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, pool: _Optional[str] = ..., key_ids: _Optional[_Iterable[str]] = ..., secrets: _Optional[_Iterable[str]] = ...) -> None: ...

class RemoveResponse(_message.Message):
    __slots__ = ["not_found_key_ids", "removed_count", "removed_key_ids"]
    NOT_FOUND_KEY_IDS_FIELD_NUMBER: _ClassVar[int]
    REMOVED_COUNT_FIELD_NUMBER: _ClassVar[int]
    REMOVED_KEY_IDS_FIELD_NUMBER: _ClassVar[int]
    not_found_key_ids: _containers.RepeatedScalarFieldContainer[str]
    removed_count: int
    removed_key_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, removed_count: _Optional[int] = ..., removed_key_ids: _Optional[_Iterable[str]] = ..., not_found_key_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ReportFailureRequest(_message.Message):
    __slots__ = ["error_code", "error_message", "error_type", "http_status", "key_id", "kind", "lease_id", "pool", "retry_after"]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_TYPE_FIELD_NUMBER: _ClassVar[int]
    HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_FIELD_NUMBER: _ClassVar[int]
    error_code: str
    error_message: str
    error_type: str
    http_status: int
    key_id: str
    kind: FailureKind
    lease_id: str
    pool: str
    retry_after: _duration_pb2.Duration
    def __init__(self, pool: _Optional[str] = ..., lease_id: _Optional[str] = ..., key_id: _Optional[str] = ..., http_status: _Optional[int] = ..., error_type: _Optional[str] = ..., error_code: _Optional[str] = ..., error_message: _Optional[str] = ..., retry_after: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., kind: _Optional[_Union[FailureKind, str]] = ...) -> None: ...

class ReportFailureResponse(_message.Message):
    __slots__ = ["kept_active", "key_id", "kind", "previous_state", "queued", "reason", "state", "state_until"]
    KEPT_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STATE_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_UNTIL_FIELD_NUMBER: _ClassVar[int]
    kept_active: bool
    key_id: str
    kind: FailureKind
    previous_state: KeyState
    queued: bool
    reason: str
    state: KeyState
    state_until: _timestamp_pb2.Timestamp
    def __init__(self, key_id: _Optional[str] = ..., kind: _Optional[_Union[FailureKind, str]] = ..., previous_state: _Optional[_Union[KeyState, str]] = ..., state: _Optional[_Union[KeyState, str]] = ..., state_until: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ..., queued: bool = ..., kept_active: bool = ...) -> None: ...

class ReportUsageRequest(_message.Message):
    __slots__ = ["pool", "usages"]
    POOL_FIELD_NUMBER: _ClassVar[int]
    USAGES_FIELD_NUMBER: _ClassVar[int]
    pool: str
    usages: _containers.RepeatedCompositeFieldContainer[Usage]
    def __init__(self, pool: _Optional[str] = ..., usages: _Optional[_Iterable[_Union[Usage, _Mapping]]] = ...) -> None: ...

class ReportUsageResponse(_message.Message):
    __slots__ = ["accepted_count"]
    ACCEPTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    accepted_count: int
    def __init__(self, accepted_count: _Optional[int] = ...) -> None: ...

class RestoreRequest(_message.Message):
    __slots__ = ["all_quarantined", "key_ids", "pool"]
    ALL_QUARANTINED_FIELD_NUMBER: _ClassVar[int]
    KEY_IDS_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    all_quarantined: bool
    key_ids: _containers.RepeatedScalarFieldContainer[str]
    pool: str
    def __init__(self, pool: _Optional[str] = ..., key_ids: _Optional[_Iterable[str]] = ..., all_quarantined: bool = ...) -> None: ...

class RestoreResponse(_message.Message):
    __slots__ = ["not_found_key_ids", "restored_count", "restored_key_ids", "unchanged_key_ids"]
    NOT_FOUND_KEY_IDS_FIELD_NUMBER: _ClassVar[int]
    RESTORED_COUNT_FIELD_NUMBER: _ClassVar[int]
    RESTORED_KEY_IDS_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_KEY_IDS_FIELD_NUMBER: _ClassVar[int]
    not_found_key_ids: _containers.RepeatedScalarFieldContainer[str]
    restored_count: int
    restored_key_ids: _containers.RepeatedScalarFieldContainer[str]
    unchanged_key_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, restored_count: _Optional[int] = ..., restored_key_ids: _Optional[_Iterable[str]] = ..., unchanged_key_ids: _Optional[_Iterable[str]] = ..., not_found_key_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ["age", "lease_id", "requests", "tokens"]
    AGE_FIELD_NUMBER: _ClassVar[int]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    age: _duration_pb2.Duration
    lease_id: str
    requests: RateLimitWindow
    tokens: RateLimitWindow
    def __init__(self, lease_id: _Optional[str] = ..., age: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., requests: _Optional[_Union[RateLimitWindow, _Mapping]] = ..., tokens: _Optional[_Union[RateLimitWindow, _Mapping]] = ...) -> None: ...

class WorkerStatus(_message.Message):
    __slots__ = ["changed", "checked", "errors", "faults", "name"]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    CHECKED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    FAULTS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    changed: int
    checked: int
    errors: int
    faults: int
    name: str
    def __init__(self, name: _Optional[str] = ..., checked: _Optional[int] = ..., changed: _Optional[int] = ..., faults: _Optional[int] = ..., errors: _Optional[int] = ...) -> None: ...

class ErrorReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class KeyState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class FailureKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
