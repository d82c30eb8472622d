"""Scopes, and the one table saying which scopes allow which method.

The README's method table is generated from `METHOD_SCOPES`; keep them in step by
running `python -m aura_grpc.auth.scopes`.
"""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    ADMIN = "admin"
    DEVICE = "device"
    READ = "read"
    REVOKE = "revoke"
    ISSUE_ANY = "issue_any"


ALL_SCOPES = frozenset(Scope)
PUBLIC: frozenset[Scope] = frozenset()

# Full gRPC method name -> scopes any one of which allows the call.
# `admin` allows everything within its org and is listed for clarity.
METHOD_SCOPES: dict[str, frozenset[Scope]] = {
    "/aura.v2.AttestService/CreateChallenge": frozenset({Scope.ADMIN, Scope.DEVICE}),
    "/aura.v2.AttestService/Attest": frozenset({Scope.ADMIN, Scope.DEVICE}),
    "/aura.v2.AttestService/GetDevice": frozenset(
        {Scope.ADMIN, Scope.READ, Scope.DEVICE}
    ),
    "/aura.v2.AttestService/PutReferenceValues": frozenset({Scope.ADMIN}),
    "/aura.v2.AttestService/GetReferenceValues": frozenset({Scope.ADMIN, Scope.READ}),
    "/aura.v2.CertService/IssueCert": frozenset(
        {Scope.ADMIN, Scope.DEVICE, Scope.ISSUE_ANY}
    ),
    "/aura.v2.CertService/ListCerts": frozenset({Scope.ADMIN, Scope.READ}),
    "/aura.v2.CertService/RevokeCert": frozenset({Scope.ADMIN, Scope.REVOKE}),
    "/aura.v2.CertService/GetCRL": frozenset({Scope.ADMIN, Scope.READ, Scope.DEVICE}),
    "/aura.v2.CertService/GetCA": frozenset({Scope.ADMIN, Scope.READ, Scope.DEVICE}),
    "/aura.v2.CertService/GetCAcrl": PUBLIC,
}


def parse_scopes(text: str) -> frozenset[Scope]:
    """Comma-separated scope names; raises ValueError naming unknown ones."""
    names = {part.strip() for part in text.split(",") if part.strip()}
    unknown = names - {s.value for s in Scope}
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
    return frozenset(Scope(name) for name in names)


def markdown_table() -> str:
    rows = ["| method | scopes that allow it |", "|---|---|"]
    for method, scopes in METHOD_SCOPES.items():
        allowed = ", ".join(f"`{s}`" for s in sorted(scopes)) or "none (public)"
        rows.append(f"| `{method.rsplit('/', 1)[-1]}` | {allowed} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
