"""PKCS#11 URIs (RFC 7512) naming a CA key: `pkcs11:token=aura;object=ca_1f2e`.

Only what a stored key_ref needs is accepted. A PIN never goes in the URI (the
key_ref is stored in the database): it comes from configuration or a PIN file.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote

from aura_grpc.errors import InvalidInput

SCHEME = "pkcs11:"
MAX_LENGTH = 400
_PATH_ATTRIBUTES = {"token", "object", "type", "id"}
_SECRET_QUERY = {"pin-value", "pin-source"}


@dataclass(frozen=True)
class KeyURI:
    token: str
    object: str

    def __str__(self) -> str:
        token = quote(self.token, safe="")
        label = quote(self.object, safe="")
        return f"{SCHEME}token={token};object={label};type=private"


def _invalid(why: str) -> InvalidInput:
    return InvalidInput(
        f"key_ref is not a usable pkcs11: URI: {why}", reason="KEY_REF_INVALID"
    )


def _attributes(path: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in filter(None, path.split(";")):
        name, sep, value = part.partition("=")
        if not sep or name not in _PATH_ATTRIBUTES:
            raise _invalid(f"unsupported attribute '{name[:20]}'")
        if name in found:
            raise _invalid(f"'{name}' is given twice")
        found[name] = unquote(value, errors="strict")
    return found


def parse_key_uri(text: str) -> KeyURI:
    """Parse and check a key_ref; the error says what to fix."""
    if not text.startswith(SCHEME) or len(text) > MAX_LENGTH:
        raise _invalid(
            f"it must start with '{SCHEME}' and be at most {MAX_LENGTH} chars"
        )
    path, _, query = text[len(SCHEME) :].partition("?")
    if any(item.partition("=")[0] in _SECRET_QUERY for item in query.split("&")):
        raise _invalid("a PIN never goes in the key_ref; configure pkcs11_pin_file")

    try:
        found = _attributes(path)
    except UnicodeDecodeError as exc:
        raise _invalid("bad percent-encoding") from exc
    if found.get("type", "private") != "private":
        raise _invalid("type must be 'private'")
    if not found.get("token") or not found.get("object"):
        raise _invalid("it must name both token= and object=")
    return KeyURI(found["token"], found["object"])
