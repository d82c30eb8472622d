import datetime

from aura_grpc.gen.aura.v2 import certs_pb2 as _certs_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OrgInfo(_message.Message):
    __slots__ = ("org_id", "name", "disabled", "created_at")
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    org_id: str
    name: str
    disabled: bool
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, org_id: _Optional[str] = ..., name: _Optional[str] = ..., disabled: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateOrgRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class CreateOrgResponse(_message.Message):
    __slots__ = ("org",)
    ORG_FIELD_NUMBER: _ClassVar[int]
    org: OrgInfo
    def __init__(self, org: _Optional[_Union[OrgInfo, _Mapping]] = ...) -> None: ...

class ListOrgsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListOrgsResponse(_message.Message):
    __slots__ = ("orgs",)
    ORGS_FIELD_NUMBER: _ClassVar[int]
    orgs: _containers.RepeatedCompositeFieldContainer[OrgInfo]
    def __init__(self, orgs: _Optional[_Iterable[_Union[OrgInfo, _Mapping]]] = ...) -> None: ...

class DisableOrgRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DisableOrgResponse(_message.Message):
    __slots__ = ("org", "revoked_serials")
    ORG_FIELD_NUMBER: _ClassVar[int]
    REVOKED_SERIALS_FIELD_NUMBER: _ClassVar[int]
    org: OrgInfo
    revoked_serials: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, org: _Optional[_Union[OrgInfo, _Mapping]] = ..., revoked_serials: _Optional[_Iterable[str]] = ...) -> None: ...

class TokenInfo(_message.Message):
    __slots__ = ("token_id", "org", "scopes", "label", "created_at", "expires_at", "revoked_at", "status")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    org: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    label: str
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    revoked_at: _timestamp_pb2.Timestamp
    status: str
    def __init__(self, token_id: _Optional[str] = ..., org: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., label: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[str] = ...) -> None: ...

class CreateTokenRequest(_message.Message):
    __slots__ = ("org", "scopes", "label", "ttl_seconds")
    ORG_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    org: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    label: str
    ttl_seconds: int
    def __init__(self, org: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., label: _Optional[str] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class CreateTokenResponse(_message.Message):
    __slots__ = ("token", "bearer")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    BEARER_FIELD_NUMBER: _ClassVar[int]
    token: TokenInfo
    bearer: str
    def __init__(self, token: _Optional[_Union[TokenInfo, _Mapping]] = ..., bearer: _Optional[str] = ...) -> None: ...

class ListTokensRequest(_message.Message):
    __slots__ = ("org", "include_revoked")
    ORG_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_REVOKED_FIELD_NUMBER: _ClassVar[int]
    org: str
    include_revoked: bool
    def __init__(self, org: _Optional[str] = ..., include_revoked: _Optional[bool] = ...) -> None: ...

class ListTokensResponse(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[TokenInfo]
    def __init__(self, tokens: _Optional[_Iterable[_Union[TokenInfo, _Mapping]]] = ...) -> None: ...

class RevokeTokenRequest(_message.Message):
    __slots__ = ("token_id",)
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    def __init__(self, token_id: _Optional[str] = ...) -> None: ...

class RevokeTokenResponse(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: TokenInfo
    def __init__(self, token: _Optional[_Union[TokenInfo, _Mapping]] = ...) -> None: ...

class DeviceSummary(_message.Message):
    __slots__ = ("device_id", "type", "posture_ok", "last_attested_at", "created_at", "stale", "active_certificates")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    POSTURE_OK_FIELD_NUMBER: _ClassVar[int]
    LAST_ATTESTED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_CERTIFICATES_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    type: str
    posture_ok: bool
    last_attested_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    stale: bool
    active_certificates: int
    def __init__(self, device_id: _Optional[str] = ..., type: _Optional[str] = ..., posture_ok: _Optional[bool] = ..., last_attested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stale: _Optional[bool] = ..., active_certificates: _Optional[int] = ...) -> None: ...

class ListDevicesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDevicesResponse(_message.Message):
    __slots__ = ("devices", "next_page_token")
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    devices: _containers.RepeatedCompositeFieldContainer[DeviceSummary]
    next_page_token: str
    def __init__(self, devices: _Optional[_Iterable[_Union[DeviceSummary, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetDeviceHistoryRequest(_message.Message):
    __slots__ = ("device_id",)
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    def __init__(self, device_id: _Optional[str] = ...) -> None: ...

class AttestationRecord(_message.Message):
    __slots__ = ("attested_at", "type", "posture_ok", "failed_checks", "evidence_digest")
    ATTESTED_AT_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    POSTURE_OK_FIELD_NUMBER: _ClassVar[int]
    FAILED_CHECKS_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    attested_at: _timestamp_pb2.Timestamp
    type: str
    posture_ok: bool
    failed_checks: _containers.RepeatedScalarFieldContainer[str]
    evidence_digest: str
    def __init__(self, attested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., type: _Optional[str] = ..., posture_ok: _Optional[bool] = ..., failed_checks: _Optional[_Iterable[str]] = ..., evidence_digest: _Optional[str] = ...) -> None: ...

class GetDeviceHistoryResponse(_message.Message):
    __slots__ = ("device", "posture", "attestations", "certificates")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    POSTURE_FIELD_NUMBER: _ClassVar[int]
    ATTESTATIONS_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATES_FIELD_NUMBER: _ClassVar[int]
    device: DeviceSummary
    posture: _struct_pb2.Struct
    attestations: _containers.RepeatedCompositeFieldContainer[AttestationRecord]
    certificates: _containers.RepeatedCompositeFieldContainer[_certs_pb2.Certificate]
    def __init__(self, device: _Optional[_Union[DeviceSummary, _Mapping]] = ..., posture: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., attestations: _Optional[_Iterable[_Union[AttestationRecord, _Mapping]]] = ..., certificates: _Optional[_Iterable[_Union[_certs_pb2.Certificate, _Mapping]]] = ...) -> None: ...

class ForgetDeviceRequest(_message.Message):
    __slots__ = ("device_id",)
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    def __init__(self, device_id: _Optional[str] = ...) -> None: ...

class RevokeDeviceCertsRequest(_message.Message):
    __slots__ = ("device_id", "reason")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    reason: str
    def __init__(self, device_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ForgetDeviceResponse(_message.Message):
    __slots__ = ("device_id", "revoked_serials")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    REVOKED_SERIALS_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    revoked_serials: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, device_id: _Optional[str] = ..., revoked_serials: _Optional[_Iterable[str]] = ...) -> None: ...

class RevokeDeviceCertsResponse(_message.Message):
    __slots__ = ("device_id", "revoked_serials")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    REVOKED_SERIALS_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    revoked_serials: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, device_id: _Optional[str] = ..., revoked_serials: _Optional[_Iterable[str]] = ...) -> None: ...

class GetCertRequest(_message.Message):
    __slots__ = ("serial",)
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    serial: str
    def __init__(self, serial: _Optional[str] = ...) -> None: ...

class GetCertResponse(_message.Message):
    __slots__ = ("certificate",)
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    certificate: _certs_pb2.Certificate
    def __init__(self, certificate: _Optional[_Union[_certs_pb2.Certificate, _Mapping]] = ...) -> None: ...

class RotateCARequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RotateCAResponse(_message.Message):
    __slots__ = ("ca_id", "previous_ca_id")
    CA_ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_CA_ID_FIELD_NUMBER: _ClassVar[int]
    ca_id: str
    previous_ca_id: str
    def __init__(self, ca_id: _Optional[str] = ..., previous_ca_id: _Optional[str] = ...) -> None: ...

class AuditEvent(_message.Message):
    __slots__ = ("id", "at", "event", "outcome", "reason", "org_id", "device_id", "serial", "token_id", "request_id", "detail")
    ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    id: int
    at: _timestamp_pb2.Timestamp
    event: str
    outcome: str
    reason: str
    org_id: str
    device_id: str
    serial: str
    token_id: str
    request_id: str
    detail: _struct_pb2.Struct
    def __init__(self, id: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., event: _Optional[str] = ..., outcome: _Optional[str] = ..., reason: _Optional[str] = ..., org_id: _Optional[str] = ..., device_id: _Optional[str] = ..., serial: _Optional[str] = ..., token_id: _Optional[str] = ..., request_id: _Optional[str] = ..., detail: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ListAuditEventsRequest(_message.Message):
    __slots__ = ("event", "device_id", "serial", "since", "page_size", "page_token", "newest_first", "org")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    NEWEST_FIRST_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    event: str
    device_id: str
    serial: str
    since: str
    page_size: int
    page_token: str
    newest_first: bool
    org: str
    def __init__(self, event: _Optional[str] = ..., device_id: _Optional[str] = ..., serial: _Optional[str] = ..., since: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., newest_first: _Optional[bool] = ..., org: _Optional[str] = ...) -> None: ...

class ListAuditEventsResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[AuditEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[AuditEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
