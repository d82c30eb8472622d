"""`openssl verify` with CRL checking, as a relying party would run it."""

from __future__ import annotations

import subprocess
from pathlib import Path


def openssl_verify_with_crl(
    tmp: Path, ca_pem: str, crl_pem: str, leaf_pem: str
) -> subprocess.CompletedProcess[str]:
    paths = {name: tmp / f"{name}.pem" for name in ("ca", "crl", "leaf")}
    for name, text in (("ca", ca_pem), ("crl", crl_pem), ("leaf", leaf_pem)):
        paths[name].write_text(text)
    command = [
        *("openssl", "verify", "-x509_strict", "-crl_check"),
        *("-purpose", "sslclient", "-CAfile", str(paths["ca"])),
        *("-CRLfile", str(paths["crl"]), str(paths["leaf"])),
    ]
    return subprocess.run(command, capture_output=True, text=True, check=False)
