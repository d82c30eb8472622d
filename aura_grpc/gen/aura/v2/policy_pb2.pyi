import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PolicyTestCase(_message.Message):
    __slots__ = ("name", "input", "expect")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    EXPECT_FIELD_NUMBER: _ClassVar[int]
    name: str
    input: _struct_pb2.Struct
    expect: str
    def __init__(self, name: _Optional[str] = ..., input: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., expect: _Optional[str] = ...) -> None: ...

class PutPolicyRequest(_message.Message):
    __slots__ = ("rego", "test_cases", "on_posture_loss")
    REGO_FIELD_NUMBER: _ClassVar[int]
    TEST_CASES_FIELD_NUMBER: _ClassVar[int]
    ON_POSTURE_LOSS_FIELD_NUMBER: _ClassVar[int]
    rego: str
    test_cases: _containers.RepeatedCompositeFieldContainer[PolicyTestCase]
    on_posture_loss: str
    def __init__(self, rego: _Optional[str] = ..., test_cases: _Optional[_Iterable[_Union[PolicyTestCase, _Mapping]]] = ..., on_posture_loss: _Optional[str] = ...) -> None: ...

class GetPolicyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Policy(_message.Message):
    __slots__ = ("version", "rego", "digest", "test_cases", "on_posture_loss", "created_at")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REGO_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    TEST_CASES_FIELD_NUMBER: _ClassVar[int]
    ON_POSTURE_LOSS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    version: int
    rego: str
    digest: str
    test_cases: _containers.RepeatedCompositeFieldContainer[PolicyTestCase]
    on_posture_loss: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, version: _Optional[int] = ..., rego: _Optional[str] = ..., digest: _Optional[str] = ..., test_cases: _Optional[_Iterable[_Union[PolicyTestCase, _Mapping]]] = ..., on_posture_loss: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TestPolicyRequest(_message.Message):
    __slots__ = ("rego", "input")
    REGO_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    rego: str
    input: _struct_pb2.Struct
    def __init__(self, rego: _Optional[str] = ..., input: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class TestPolicyResponse(_message.Message):
    __slots__ = ("decision", "reasons", "error")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    decision: str
    reasons: _containers.RepeatedScalarFieldContainer[str]
    error: str
    def __init__(self, decision: _Optional[str] = ..., reasons: _Optional[_Iterable[str]] = ..., error: _Optional[str] = ...) -> None: ...

class ListApprovalsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListApprovalsResponse(_message.Message):
    __slots__ = ("approvals",)
    APPROVALS_FIELD_NUMBER: _ClassVar[int]
    approvals: _containers.RepeatedCompositeFieldContainer[Approval]
    def __init__(self, approvals: _Optional[_Iterable[_Union[Approval, _Mapping]]] = ...) -> None: ...

class GetApprovalRequest(_message.Message):
    __slots__ = ("approval_id",)
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    def __init__(self, approval_id: _Optional[str] = ...) -> None: ...

class DecideApprovalRequest(_message.Message):
    __slots__ = ("approval_id",)
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    def __init__(self, approval_id: _Optional[str] = ...) -> None: ...

class Approval(_message.Message):
    __slots__ = ("approval_id", "device_id", "subject_cn", "days", "status", "reasons", "policy_version", "created_at", "expires_at", "decided_at", "key_sha256", "serial", "cert_pem", "chain_pem")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_CN_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    KEY_SHA256_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    CERT_PEM_FIELD_NUMBER: _ClassVar[int]
    CHAIN_PEM_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    device_id: str
    subject_cn: str
    days: int
    status: str
    reasons: _containers.RepeatedScalarFieldContainer[str]
    policy_version: int
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    decided_at: _timestamp_pb2.Timestamp
    key_sha256: str
    serial: str
    cert_pem: str
    chain_pem: str
    def __init__(self, approval_id: _Optional[str] = ..., device_id: _Optional[str] = ..., subject_cn: _Optional[str] = ..., days: _Optional[int] = ..., status: _Optional[str] = ..., reasons: _Optional[_Iterable[str]] = ..., policy_version: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., key_sha256: _Optional[str] = ..., serial: _Optional[str] = ..., cert_pem: _Optional[str] = ..., chain_pem: _Optional[str] = ...) -> None: ...
