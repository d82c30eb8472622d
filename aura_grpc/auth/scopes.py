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
    # Decides held issuances; device tokens never carry it.
    APPROVE = "approve"
    # Across orgs: create, list and disable orgs, act for another org where a
    # request names one. Only tokens of the reserved org `platform` carry it.
    PLATFORM = "platform"


ALL_SCOPES = frozenset(Scope)
PUBLIC: frozenset[Scope] = frozenset()
# No bearer token: the client certificate Envoy verified is the caller, acting
# for its own device with the `device` scope (CallGuard.device_identity).
CLIENT_CERTIFICATE: frozenset[Scope] = frozenset({Scope.DEVICE})

# Full gRPC method name -> scopes any one of which allows the call.
# `admin` allows everything within its org and is listed for clarity.
METHOD_SCOPES: dict[str, frozenset[Scope]] = {
    "/aura.v2.AttestService/CreateChallenge": frozenset({Scope.ADMIN, Scope.DEVICE}),
    "/aura.v2.AttestService/CreateCredentialChallenge": frozenset(
        {Scope.ADMIN, Scope.DEVICE}
    ),
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
    "/aura.v2.PolicyService/PutPolicy": frozenset({Scope.ADMIN}),
    "/aura.v2.PolicyService/GetPolicy": frozenset({Scope.ADMIN, Scope.READ}),
    "/aura.v2.PolicyService/TestPolicy": frozenset({Scope.ADMIN}),
    "/aura.v2.ApprovalService/ListApprovals": frozenset(
        {Scope.ADMIN, Scope.READ, Scope.APPROVE}
    ),
    "/aura.v2.ApprovalService/GetApproval": frozenset(
        {Scope.ADMIN, Scope.READ, Scope.APPROVE, Scope.DEVICE}
    ),
    "/aura.v2.ApprovalService/Approve": frozenset({Scope.ADMIN, Scope.APPROVE}),
    "/aura.v2.ApprovalService/Deny": frozenset({Scope.ADMIN, Scope.APPROVE}),
    "/aura.v2.MetaService/GetVersion": PUBLIC,
    **{
        f"/aura.v2.AdminService/{name}": scopes
        for name, scopes in (
            ("CreateOrg", frozenset({Scope.PLATFORM})),
            ("ListOrgs", frozenset({Scope.PLATFORM})),
            ("DisableOrg", frozenset({Scope.PLATFORM})),
            ("CreateToken", frozenset({Scope.ADMIN, Scope.PLATFORM})),
            ("ListTokens", frozenset({Scope.ADMIN, Scope.READ, Scope.PLATFORM})),
            ("RevokeToken", frozenset({Scope.ADMIN, Scope.PLATFORM})),
            ("ListDevices", frozenset({Scope.ADMIN, Scope.READ})),
            ("GetDeviceHistory", frozenset({Scope.ADMIN, Scope.READ})),
            ("ForgetDevice", frozenset({Scope.ADMIN})),
            ("RevokeDeviceCerts", frozenset({Scope.ADMIN, Scope.REVOKE})),
            ("GetCert", frozenset({Scope.ADMIN, Scope.READ})),
            ("RotateCA", frozenset({Scope.ADMIN})),
            ("ListAuditEvents", frozenset({Scope.ADMIN, Scope.READ, Scope.PLATFORM})),
        )
    },
    "/aura.v2.DeviceService/WhoAmI": CLIENT_CERTIFICATE,
    "/aura.v2.DeviceService/CreateDeviceChallenge": CLIENT_CERTIFICATE,
    "/aura.v2.DeviceService/AttestDevice": CLIENT_CERTIFICATE,
    "/aura.v2.DeviceService/RenewCert": CLIENT_CERTIFICATE,
}

# Methods whose caller is a client certificate instead of a bearer token.
CERTIFICATE_METHODS = frozenset(
    method for method in METHOD_SCOPES if method.startswith("/aura.v2.DeviceService/")
)


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
        if method in CERTIFICATE_METHODS:
            allowed = "client certificate (device listener), no token"
        rows.append(f"| `{method.rsplit('/', 1)[-1]}` | {allowed} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
