"""Compile `proto/` into Python modules and into Envoy's descriptor set.

The googleapis protos (`google/api/*.proto`) come from the installed
googleapis-common-protos package, never from the repository; buf needs them as a
local module, so `materialise_googleapis` copies them into an ignored folder.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import google.api
import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
GEN_DIR = ROOT / "aura_grpc" / "gen"
THIRD_PARTY = ROOT / "gateway" / "third_party" / "googleapis"


def include_dirs() -> list[str]:
    googleapis = Path(google.api.__file__).resolve().parent.parent.parent
    well_known = Path(grpc_tools.__file__).resolve().parent / "_proto"
    return [str(PROTO_DIR), str(googleapis), str(well_known)]


def proto_files() -> list[str]:
    return sorted(str(p.relative_to(PROTO_DIR)) for p in PROTO_DIR.rglob("*.proto"))


# The transcoder must know the error detail types to print them as JSON.
ERROR_PROTOS = ["google/rpc/status.proto", "google/rpc/error_details.proto"]


def _run_protoc(args: list[str], extra: list[str] | None = None) -> None:
    flags = [f"-I{d}" for d in include_dirs()]
    files = [*proto_files(), *(extra or [])]
    if protoc.main(["protoc", *flags, *args, *files]) != 0:
        raise RuntimeError("protoc failed; see its output above")


def generate_python(out_dir: Path = GEN_DIR) -> None:
    """Python messages, gRPC stubs and type stubs, importable as aura_grpc.gen."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _run_protoc(
        [
            f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            f"--pyi_out={out_dir}",
        ]
    )

    # protoc writes absolute imports from the proto root; make them package-relative.
    for path in out_dir.rglob("*.py*"):
        text = path.read_text()
        fixed = re.sub(
            r"^from aura\.v2 import",
            "from aura_grpc.gen.aura.v2 import",
            text,
            flags=re.M,
        )
        path.write_text(fixed)
    for folder in [out_dir, *[p for p in out_dir.rglob("*") if p.is_dir()]]:
        (folder / "__init__.py").touch()


def build_descriptor(out_path: Path) -> Path:
    """The descriptor set Envoy's grpc_json_transcoder reads."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    _run_protoc(
        [
            "--include_imports",
            "--include_source_info",
            f"--descriptor_set_out={out_path}",
        ],
        ERROR_PROTOS,
    )
    return out_path


def materialise_googleapis(target: Path = THIRD_PARTY) -> Path:
    """Copy google/api/*.proto for buf, which cannot reach its registry here."""
    source = Path(google.api.__file__).resolve().parent
    destination = target / "google" / "api"
    destination.mkdir(parents=True, exist_ok=True)
    for proto in source.glob("*.proto"):
        shutil.copyfile(proto, destination / proto.name)
    return target


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "python"
    if command == "python":
        generate_python()
    elif command == "googleapis":
        print(materialise_googleapis())
    elif command == "descriptor":
        print(build_descriptor(Path(sys.argv[2])))
    else:
        raise SystemExit(
            f"unknown command {command!r}: python | googleapis | descriptor PATH"
        )


if __name__ == "__main__":
    main()
