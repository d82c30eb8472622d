"""Configuration: test roots only outside prod, the pinned root is checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from aura_grpc.attestation.aws_nitro import NitroVerifier
from aura_grpc.attestation.aws_nitro.chain import load_pinned_root
from aura_grpc.attestation.aws_nitro.signature import ROOT_FILE, ROOT_SHA256
from aura_grpc.attestation.registry import VerifierRegistry
from tests.attestation.aws_nitro.minting import NitroTestPKI


def test_extra_roots_are_refused_in_prod(pki: NitroTestPKI) -> None:
    with pytest.raises(ValueError, match="prod"):
        NitroVerifier.from_options({"extra_roots_pem": pki.root_pem}, "prod")


def test_extra_roots_load_from_a_file(pki: NitroTestPKI, tmp_path: Path) -> None:
    path = tmp_path / "root.pem"
    path.write_text(pki.root_pem)

    assert isinstance(
        NitroVerifier.from_options({"extra_roots_pem": str(path)}, "dev"), NitroVerifier
    )


@pytest.mark.parametrize(
    "options",
    [{"max_age": 1}, {"max_age_seconds": 0}, {"max_age_seconds": "300"}],
    ids=["unknown key", "zero max age", "max age as text"],
)
def test_bad_options_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        NitroVerifier.from_options(options, "dev")


def test_pinned_root_with_another_fingerprint_is_refused() -> None:
    load_pinned_root(ROOT_FILE, ROOT_SHA256)

    with pytest.raises(ValueError, match="fingerprint"):
        load_pinned_root(ROOT_FILE, "00" * 32)


def test_registry_builds_the_nitro_verifier() -> None:
    registry = VerifierRegistry.build("prod", {"aws_nitro": {}})

    assert isinstance(registry.get("aws_nitro"), NitroVerifier)
