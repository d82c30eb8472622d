"""The device's TPM, driven through tpm2-tools.

Every TPM command is a tpm2-tools subprocess run in the agent's state folder
(context files live there); nothing here marshals TPM commands itself. Without
a resource manager (swtpm, or /dev/tpm0) a transient object stays loaded until
flushed, and the TPM holds only a few: every command is followed by a flush.
"""

from __future__ import annotations

import logging
import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# tpm2-tools' credential file: magic and version, then the two TPM2B blobs.
_CREDENTIAL_HEADER = struct.pack(">II", 0xBADCC0DE, 1)
_KEY_ATTRIBUTES = "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign"
_TIMEOUT = 60


class TPMError(Exception):
    """A tpm2-tools command failed; the message names it and its stderr."""


@dataclass(frozen=True)
class Quote:
    attest: bytes
    signature: bytes
    pcrs: dict[int, bytes]


@dataclass(frozen=True)
class CertifiedKey:
    """A key made in the TPM, and the AK's TPM2_CertifyCreation of it."""

    public_area: bytes
    public_pem: str
    certify_info: bytes
    certify_signature: bytes


def tools_available() -> bool:
    return shutil.which("tpm2_activatecredential") is not None


class TPM:
    """EK, AK and keys of one TPM, with context files kept in `workdir`."""

    def __init__(self, workdir: Path, tcti: str, key_alg: str = "rsa") -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._env = {**os.environ, "TPM2TOOLS_TCTI": tcti}
        self._alg = key_alg

    def run(self, *args: str) -> bytes:
        """Run one tpm2-tools command here, then flush what it left loaded."""
        result = self._call(args)
        self._flush()
        if result.returncode != 0:
            stderr = result.stderr.decode(errors="replace").strip()
            raise TPMError(f"{args[0]} failed: {stderr[-400:]}")
        return result.stdout

    def read(self, name: str) -> bytes:
        return (self.dir / name).read_bytes()

    def ensure_keys(self) -> None:
        """EK and AK, reused while their saved contexts still load."""
        if self._loads("ek.ctx") and self._loads("ak.ctx"):
            return
        # The EK comes from the TPM's seed, so it is the same key every time;
        # a new AK is fine: it is vouched for afresh by credential activation.
        log.info("creating EK and AK in the TPM")
        self.run("tpm2_createek", "-c", "ek.ctx", "-G", self._alg, "-u", "ek.pub")
        scheme = "rsassa" if self._alg == "rsa" else "ecdsa"
        self.run(
            "tpm2_createak", "-C", "ek.ctx", "-c", "ak.ctx", "-G", self._alg,
            "-g", "sha256", "-s", scheme, "-u", "ak.pub", "-n", "ak.name",
        )  # fmt: skip

    def activate_credential(self, blob: bytes, encrypted_secret: bytes) -> bytes:
        """TPM2_ActivateCredential: the secret, if it was wrapped for this EK/AK."""
        (self.dir / "cred.in").write_bytes(_CREDENTIAL_HEADER + blob + encrypted_secret)
        # The EK's policy needs the endorsement hierarchy's authorisation.
        self.run("tpm2_startauthsession", "--policy-session", "-S", "session.ctx")
        try:
            self.run("tpm2_policysecret", "-S", "session.ctx", "-c", "e")
            self.run(
                "tpm2_activatecredential", "-c", "ak.ctx", "-C", "ek.ctx",
                "-i", "cred.in", "-o", "cred.secret", "-P", "session:session.ctx",
            )  # fmt: skip
        finally:
            self._call(("tpm2_flushcontext", "session.ctx"))
        secret = self.read("cred.secret")
        (self.dir / "cred.secret").unlink()
        return secret

    def quote(self, nonce: bytes, pcrs: list[int]) -> Quote:
        """Quote sha256 PCRs with `nonce` as extraData; read the values quoted."""
        selection = "sha256:" + ",".join(str(index) for index in sorted(pcrs))
        self.run(
            "tpm2_quote", "-c", "ak.ctx", "-l", selection, "-q", nonce.hex(),
            "-m", "quote.msg", "-s", "quote.sig", "-g", "sha256",
        )  # fmt: skip
        self.run("tpm2_pcrread", selection, "-o", "pcrs.bin")
        # A PCR extended between the two reads makes the quote fail to verify,
        # which is the right outcome: the agent simply runs again.
        values = self.read("pcrs.bin")
        ordered = sorted(pcrs)
        pcr_values = {i: values[n * 32 : (n + 1) * 32] for n, i in enumerate(ordered)}
        return Quote(self.read("quote.msg"), self.read("quote.sig"), pcr_values)

    def create_certified_key(self, name: str, nonce: bytes) -> CertifiedKey:
        """A P-256 signing key made in the TPM, certified by the AK with `nonce`.

        TPM2_CertifyCreation stands in for TPM2_Certify: Debian 12's tpm2-tools
        (5.4) cannot give TPM2_Certify qualifying data, and a creation
        certification proves the same (the TPM checks its own creation ticket).
        """
        self._ensure_srk()
        self.run(
            "tpm2_create", "-C", "srk.ctx", "-G", "ecc256:ecdsa-sha256",
            "-a", _KEY_ATTRIBUTES, "-u", f"{name}.pub", "-r", f"{name}.priv",
            "-d", f"{name}.chash", "-t", f"{name}.ticket",
        )  # fmt: skip
        for suffix in ("pub", "priv"):
            (self.dir / f"{name}.{suffix}").chmod(0o600)
        self.load_key(name)
        self.run(
            "tpm2_certifycreation", "-C", "ak.ctx", "-c", f"{name}.ctx",
            "-d", f"{name}.chash", "-t", f"{name}.ticket", "-g", "sha256",
            "-o", "certify.sig", "--attestation", "certify.attest",
            "-q", nonce.hex(),
        )  # fmt: skip
        self.run("tpm2_readpublic", "-c", f"{name}.ctx", "-f", "pem", "-o", "k.pem")
        return CertifiedKey(
            public_area=self.read(f"{name}.pub"),
            public_pem=self.read("k.pem").decode(),
            certify_info=self.read("certify.attest"),
            certify_signature=self.read("certify.sig"),
        )

    def load_key(self, name: str) -> None:
        """Load a key made by `create_certified_key` (its blobs are kept here)."""
        self._ensure_srk()
        self.run(
            "tpm2_load", "-C", "srk.ctx", "-u", f"{name}.pub", "-r", f"{name}.priv",
            "-c", f"{name}.ctx",
        )  # fmt: skip

    def rename_key(self, old: str, new: str) -> None:
        for suffix in ("pub", "priv"):
            (self.dir / f"{old}.{suffix}").replace(self.dir / f"{new}.{suffix}")

    def _ensure_srk(self) -> None:
        # A primary key from the owner seed and the default template: the same
        # key every time, so it need not be persisted.
        if not self._loads("srk.ctx"):
            self.run(
                "tpm2_createprimary", "-C", "o", "-g", "sha256", "-G", "ecc256",
                "-c", "srk.ctx",
            )  # fmt: skip

    def _loads(self, context: str) -> bool:
        if not (self.dir / context).exists():
            return False
        result = self._call(("tpm2_readpublic", "-c", context))
        self._flush()
        return result.returncode == 0

    def _call(self, args: tuple[str, ...]) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            args,
            cwd=self.dir,
            env=self._env,
            capture_output=True,
            timeout=_TIMEOUT,
            check=False,
        )

    def _flush(self) -> None:
        self._call(("tpm2_flushcontext", "-t"))
