import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IssueCertRequest(_message.Message):
    __slots__ = ("device_id", "subject_cn", "days", "csr_pem", "public_key_pem", "issue_ticket", "request_id")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_CN_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    CSR_PEM_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_PEM_FIELD_NUMBER: _ClassVar[int]
    ISSUE_TICKET_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    subject_cn: str
    days: int
    csr_pem: str
    public_key_pem: str
    issue_ticket: str
    request_id: str
    def __init__(self, device_id: _Optional[str] = ..., subject_cn: _Optional[str] = ..., days: _Optional[int] = ..., csr_pem: _Optional[str] = ..., public_key_pem: _Optional[str] = ..., issue_ticket: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class IssueCertResponse(_message.Message):
    __slots__ = ("serial", "cert_pem", "not_before", "not_after", "private_key_pem", "ca_id", "chain_pem")
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    CERT_PEM_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_KEY_PEM_FIELD_NUMBER: _ClassVar[int]
    CA_ID_FIELD_NUMBER: _ClassVar[int]
    CHAIN_PEM_FIELD_NUMBER: _ClassVar[int]
    serial: str
    cert_pem: str
    not_before: _timestamp_pb2.Timestamp
    not_after: _timestamp_pb2.Timestamp
    private_key_pem: str
    ca_id: str
    chain_pem: str
    def __init__(self, serial: _Optional[str] = ..., cert_pem: _Optional[str] = ..., not_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., not_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., private_key_pem: _Optional[str] = ..., ca_id: _Optional[str] = ..., chain_pem: _Optional[str] = ...) -> None: ...

class Certificate(_message.Message):
    __slots__ = ("serial", "device_id", "subject_cn", "not_before", "not_after", "status", "revoked_at", "revocation_reason", "ca_id", "cert_pem")
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_CN_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    REVOCATION_REASON_FIELD_NUMBER: _ClassVar[int]
    CA_ID_FIELD_NUMBER: _ClassVar[int]
    CERT_PEM_FIELD_NUMBER: _ClassVar[int]
    serial: str
    device_id: str
    subject_cn: str
    not_before: _timestamp_pb2.Timestamp
    not_after: _timestamp_pb2.Timestamp
    status: str
    revoked_at: _timestamp_pb2.Timestamp
    revocation_reason: str
    ca_id: str
    cert_pem: str
    def __init__(self, serial: _Optional[str] = ..., device_id: _Optional[str] = ..., subject_cn: _Optional[str] = ..., not_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., not_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[str] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revocation_reason: _Optional[str] = ..., ca_id: _Optional[str] = ..., cert_pem: _Optional[str] = ...) -> None: ...

class ListCertsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "device_id", "status", "expires_before")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_BEFORE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    device_id: str
    status: str
    expires_before: _timestamp_pb2.Timestamp
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., device_id: _Optional[str] = ..., status: _Optional[str] = ..., expires_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListCertsResponse(_message.Message):
    __slots__ = ("certificates", "next_page_token")
    CERTIFICATES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    certificates: _containers.RepeatedCompositeFieldContainer[Certificate]
    next_page_token: str
    def __init__(self, certificates: _Optional[_Iterable[_Union[Certificate, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RevokeCertRequest(_message.Message):
    __slots__ = ("serial", "reason")
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    serial: str
    reason: str
    def __init__(self, serial: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RevokeCertResponse(_message.Message):
    __slots__ = ("certificate",)
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    certificate: Certificate
    def __init__(self, certificate: _Optional[_Union[Certificate, _Mapping]] = ...) -> None: ...

class GetCRLRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetCAcrlRequest(_message.Message):
    __slots__ = ("ca_id",)
    CA_ID_FIELD_NUMBER: _ClassVar[int]
    ca_id: str
    def __init__(self, ca_id: _Optional[str] = ...) -> None: ...

class GetCARequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetCAResponse(_message.Message):
    __slots__ = ("cas", "bundle_pem")
    CAS_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_PEM_FIELD_NUMBER: _ClassVar[int]
    cas: _containers.RepeatedCompositeFieldContainer[CACertificate]
    bundle_pem: str
    def __init__(self, cas: _Optional[_Iterable[_Union[CACertificate, _Mapping]]] = ..., bundle_pem: _Optional[str] = ...) -> None: ...

class CACertificate(_message.Message):
    __slots__ = ("ca_id", "cert_pem", "status", "not_after")
    CA_ID_FIELD_NUMBER: _ClassVar[int]
    CERT_PEM_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    ca_id: str
    cert_pem: str
    status: str
    not_after: _timestamp_pb2.Timestamp
    def __init__(self, ca_id: _Optional[str] = ..., cert_pem: _Optional[str] = ..., status: _Optional[str] = ..., not_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
