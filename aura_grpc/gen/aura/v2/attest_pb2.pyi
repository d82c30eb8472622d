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

class CreateChallengeRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateChallengeResponse(_message.Message):
    __slots__ = ("nonce", "expires_at")
    NONCE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    nonce: bytes
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, nonce: _Optional[bytes] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateCredentialChallengeRequest(_message.Message):
    __slots__ = ("ek_public", "ak_public", "ek_cert")
    EK_PUBLIC_FIELD_NUMBER: _ClassVar[int]
    AK_PUBLIC_FIELD_NUMBER: _ClassVar[int]
    EK_CERT_FIELD_NUMBER: _ClassVar[int]
    ek_public: bytes
    ak_public: bytes
    ek_cert: bytes
    def __init__(self, ek_public: _Optional[bytes] = ..., ak_public: _Optional[bytes] = ..., ek_cert: _Optional[bytes] = ...) -> None: ...

class CreateCredentialChallengeResponse(_message.Message):
    __slots__ = ("credential_blob", "encrypted_secret", "expires_at")
    CREDENTIAL_BLOB_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTED_SECRET_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    credential_blob: bytes
    encrypted_secret: bytes
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, credential_blob: _Optional[bytes] = ..., encrypted_secret: _Optional[bytes] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AttestRequest(_message.Message):
    __slots__ = ("type", "payload")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    type: str
    payload: _struct_pb2.Struct
    def __init__(self, type: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class AttestResponse(_message.Message):
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

class GetDeviceRequest(_message.Message):
    __slots__ = ("device_id",)
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    def __init__(self, device_id: _Optional[str] = ...) -> None: ...

class GetDeviceResponse(_message.Message):
    __slots__ = ("device_id", "type", "posture_ok", "posture", "last_attested_at", "evidence_digest", "attestation_count")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    POSTURE_OK_FIELD_NUMBER: _ClassVar[int]
    POSTURE_FIELD_NUMBER: _ClassVar[int]
    LAST_ATTESTED_AT_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    ATTESTATION_COUNT_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    type: str
    posture_ok: bool
    posture: _struct_pb2.Struct
    last_attested_at: _timestamp_pb2.Timestamp
    evidence_digest: str
    attestation_count: int
    def __init__(self, device_id: _Optional[str] = ..., type: _Optional[str] = ..., posture_ok: _Optional[bool] = ..., posture: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., last_attested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., evidence_digest: _Optional[str] = ..., attestation_count: _Optional[int] = ...) -> None: ...

class PutReferenceValuesRequest(_message.Message):
    __slots__ = ("type", "values")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    type: str
    values: _struct_pb2.Struct
    def __init__(self, type: _Optional[str] = ..., values: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class PutReferenceValuesResponse(_message.Message):
    __slots__ = ("type", "version", "values")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    type: str
    version: int
    values: _struct_pb2.Struct
    def __init__(self, type: _Optional[str] = ..., version: _Optional[int] = ..., values: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class GetReferenceValuesRequest(_message.Message):
    __slots__ = ("type",)
    TYPE_FIELD_NUMBER: _ClassVar[int]
    type: str
    def __init__(self, type: _Optional[str] = ...) -> None: ...

class GetReferenceValuesResponse(_message.Message):
    __slots__ = ("type", "version", "values")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    type: str
    version: int
    values: _struct_pb2.Struct
    def __init__(self, type: _Optional[str] = ..., version: _Optional[int] = ..., values: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
