"""Hypothesis strategies for hostile JSON API requests, read from the descriptors.

Each route's request message gives the field names; the values are of the
field's type or of any other JSON type, with unknown fields mixed in. Path
parameters are arbitrary text, percent-encoded or left raw where '/' and '%'
change what the gateway sees.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from hypothesis import strategies as st

from tests.ops.routes import FILES, Route

_PATH_PARAM = re.compile(r"\{(\w+)\}")
HUGE_NUMBERS = (2**31, 2**63, 2**64, -(2**63) - 1, 10**30, -(10**40), 1e308, -1e-308)
AWKWARD_TEXT = ("", "/", "%", "%00", "%2F", "..", "../..", "a/b", "é", "\x00", "\u202e")
UNKNOWN_NAMES = ("zz_unknown", "__proto__", "@type", "", "org_id", "id")

# Text with or without lone surrogates (only JSON escapes can carry those).
text = st.text(max_size=40)
# Up to about 54 KB once percent-encoded: past Envoy's header limit, under
# httpx's 64 KiB URL limit.
long_text = st.integers(1_000, 9_000).map(lambda n: "é" * n)
clean_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from(HUGE_NUMBERS),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)

_INT_TYPES = {
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED32,
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED32,
    FieldDescriptor.TYPE_SFIXED64,
}


@dataclass(frozen=True)
class FuzzRequest:
    verb: str
    raw_path: str  # ASCII request target: path and query
    body: bytes | None

    def __repr__(self) -> str:
        # Short: hypothesis prints failing examples, and paths can be 54 KB.
        shown = (self.body or b"")[:300]
        return f"{self.verb} {self.raw_path[:300]} body={shown!r}"


def input_type(route: Route) -> Descriptor:
    service_name, method_name = route.method.strip("/").split("/")
    for module in FILES:
        for service in module.DESCRIPTOR.services_by_name.values():
            if service.full_name == service_name:
                method: MethodDescriptor = service.methods_by_name[method_name]
                return method.input_type
    raise KeyError(route.method)


def typed_value(field: FieldDescriptor, depth: int = 0) -> st.SearchStrategy[Any]:
    """A value JSON mapping of the field's type would accept, or nearly."""
    single = _single_value(field, depth)
    if field.is_repeated:
        return st.lists(single, max_size=4)
    return single


def _single_value(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind in _INT_TYPES:
        ints = st.integers(-(2**65), 2**65) | st.sampled_from(HUGE_NUMBERS)
        return ints | ints.map(str)  # int64 travels as a JSON string too
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans() | st.sampled_from(["true", "false", "1", 0])
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats() | st.sampled_from(["NaN", "Infinity", "1e999"])
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64).map(_b64) | text
    if kind == FieldDescriptor.TYPE_MESSAGE and field.message_type is not None:
        return _message_value(field.message_type, depth)
    if kind == FieldDescriptor.TYPE_ENUM and field.enum_type is not None:
        names = [v.name for v in field.enum_type.values]
        return st.sampled_from(names) | st.integers(-5, 2**33)
    return text | long_text


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _message_value(message: Descriptor, depth: int) -> st.SearchStrategy[Any]:
    if message.full_name in ("google.protobuf.Struct", "google.protobuf.Value"):
        return json_values
    if message.full_name == "google.protobuf.Timestamp":
        stamps = st.datetimes().map(lambda d: d.isoformat() + "Z")
        return stamps | text | st.sampled_from(["9999-12-31T23:59:60Z", "0000-00-00"])
    if depth >= 2:
        return json_values
    return body_object(message, (), depth + 1)


def body_object(
    message: Descriptor, skip: tuple[str, ...], depth: int = 0
) -> st.SearchStrategy[dict[str, Any]]:
    """Some of the message's fields, each of its type or any JSON value, and
    maybe unknown fields beside them."""
    fields = [f for f in message.fields if f.name not in skip]
    known = {f.name: st.one_of(typed_value(f, depth), json_values) for f in fields}
    unknown = st.dictionaries(
        st.sampled_from(UNKNOWN_NAMES) | st.text(max_size=12), json_values, max_size=2
    )
    return st.fixed_dictionaries({}, optional=known).flatmap(
        lambda chosen: unknown.map(lambda extra: {**extra, **chosen})
    )


def path_value() -> st.SearchStrategy[str]:
    return st.one_of(clean_text, long_text, st.sampled_from(AWKWARD_TEXT))


def encode_path_value(value: str, raw: bool) -> str:
    """Percent-encoded; with `raw`, '/' and '%' reach the gateway as they are."""
    return quote(value, safe="/%" if raw else "")


def query_items(
    message: Descriptor, skip: tuple[str, ...]
) -> st.SearchStrategy[list[tuple[str, str]]]:
    names = [f.name for f in message.fields if f.name not in skip]
    name = st.sampled_from(names) if names else st.nothing()
    value = st.one_of(
        clean_text,
        st.sampled_from(HUGE_NUMBERS).map(str),
        st.integers().map(str),
        st.sampled_from(["true", "null", "[]", "{}", "2026-01-01T00:00:00Z"]),
    )
    known = st.tuples(name, value)
    unknown = st.tuples(st.sampled_from(UNKNOWN_NAMES[:2]) | clean_text, value)
    return st.lists(known | unknown if names else unknown, max_size=4)


@st.composite
def requests(draw: st.DrawFn, route: Route) -> FuzzRequest:
    message = input_type(route)
    params = tuple(_PATH_PARAM.findall(route.template))
    raw = draw(st.booleans())
    path = _PATH_PARAM.sub(
        lambda m: encode_path_value(draw(path_value()), raw), route.template
    )

    if route.verb == "get":
        items = draw(query_items(message, params))
        query = urlencode(items) if items else ""
        return FuzzRequest("GET", path + ("?" + query if query else ""), None)

    body: Any
    if route.body == "*":
        body = draw(body_object(message, params) | json_values)
    else:
        body = draw(typed_value(message.fields_by_name[route.body]) | json_values)
    encoded = json.dumps(body).encode()
    if draw(st.integers(0, 19)) == 0:
        encoded = draw(st.sampled_from([b"{", b"[1,", b"\xff\xfe", b"null", b""]))
    return FuzzRequest(route.verb.upper(), path, encoded)
