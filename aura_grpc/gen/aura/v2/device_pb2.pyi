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

class WhoAmIRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WhoAmIResponse(_message.Message):
    __slots__ = ("org", "org_id", "device_id", "subject_cn", "serial", "not_after", "ca_id")
    ORG_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_CN_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    CA_ID_FIELD_NUMBER: _ClassVar[int]
    org: str
    org_id: str
    device_id: str
    subject_cn: str
    serial: str
    not_after: _timestamp_pb2.Timestamp
    ca_id: str
    def __init__(self, org: _Optional[str] = ..., org_id: _Optional[str] = ..., device_id: _Optional[str] = ..., subject_cn: _Optional[str] = ..., serial: _Optional[str] = ..., not_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ca_id: _Optional[str] = ...) -> None: ...

class CreateDeviceChallengeRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateDeviceChallengeResponse(_message.Message):
    __slots__ = ("nonce", "expires_at")
    NONCE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    nonce: bytes
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, nonce: _Optional[bytes] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AttestDeviceRequest(_message.Message):
    __slots__ = ("type", "payload")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    type: str
    payload: _struct_pb2.Struct
    def __init__(self, type: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class AttestDeviceResponse(_message.Message):
    __slots__ = ("device_id", "posture_ok", "issue_ticket", "issue_ticket_expires_at", "failed_checks")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    POSTURE_OK_FIELD_NUMBER: _ClassVar[int]
    ISSUE_TICKET_FIELD_NUMBER: _ClassVar[int]
    ISSUE_TICKET_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    FAILED_CHECKS_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    posture_ok: bool
    issue_ticket: str
    issue_ticket_expires_at: _timestamp_pb2.Timestamp
    failed_checks: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, device_id: _Optional[str] = ..., posture_ok: _Optional[bool] = ..., issue_ticket: _Optional[str] = ..., issue_ticket_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., failed_checks: _Optional[_Iterable[str]] = ...) -> None: ...

class RenewCertRequest(_message.Message):
    __slots__ = ("csr_pem", "days", "issue_ticket")
    CSR_PEM_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    ISSUE_TICKET_FIELD_NUMBER: _ClassVar[int]
    csr_pem: str
    days: int
    issue_ticket: str
    def __init__(self, csr_pem: _Optional[str] = ..., days: _Optional[int] = ..., issue_ticket: _Optional[str] = ...) -> None: ...

class RenewCertResponse(_message.Message):
    __slots__ = ("serial", "cert_pem", "not_before", "not_after", "ca_id", "chain_pem")
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    CERT_PEM_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    CA_ID_FIELD_NUMBER: _ClassVar[int]
    CHAIN_PEM_FIELD_NUMBER: _ClassVar[int]
    serial: str
    cert_pem: str
    not_before: _timestamp_pb2.Timestamp
    not_after: _timestamp_pb2.Timestamp
    ca_id: str
    chain_pem: str
    def __init__(self, serial: _Optional[str] = ..., cert_pem: _Optional[str] = ..., not_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., not_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ca_id: _Optional[str] = ..., chain_pem: _Optional[str] = ...) -> None: ...
