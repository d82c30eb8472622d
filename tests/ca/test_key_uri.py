"""Parsing the pkcs11: key_refs CAs are stored under (RFC 7512)."""

from __future__ import annotations

import pytest

from aura_grpc.ca.signers.uri import KeyURI, parse_key_uri
from aura_grpc.errors import InvalidInput


def test_uri_names_token_and_object() -> None:
    uri = parse_key_uri("pkcs11:token=My%20HSM;object=ca-acme;type=private")
    assert uri == KeyURI("My HSM", "ca-acme")
    assert str(uri) == "pkcs11:token=My%20HSM;object=ca-acme;type=private"
    assert parse_key_uri(str(uri)) == uri


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("sealed:ca_1", "must start with"),
        ("pkcs11:token=t", "both token= and object="),
        ("pkcs11:object=o", "both token= and object="),
        ("pkcs11:token=t;object=o?pin-value=1234", "PIN never goes"),
        ("pkcs11:token=t;object=o?pin-source=file:/p", "PIN never goes"),
        ("pkcs11:token=t;object=o;type=secret-key", "type must be"),
        ("pkcs11:token=t;object=o;slot-id=3", "unsupported attribute"),
        ("pkcs11:token=t;token=u;object=o", "given twice"),
        ("pkcs11:token=t;object=%ff", "percent-encoding"),
        ("pkcs11:token=t;object=" + "o" * 400, "at most"),
    ],
    ids=[
        "another scheme",
        "no object",
        "no token",
        "a PIN value in the URI",
        "a PIN source in the URI",
        "not a private key",
        "an unsupported attribute",
        "a repeated attribute",
        "bad percent-encoding",
        "too long",
    ],
)
def test_unusable_uri_is_refused(text: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why) as caught:
        parse_key_uri(text)
    assert caught.value.reason == "KEY_REF_INVALID"
