"""`aura config check` and the JSON log format."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aura_grpc import logfields
from aura_grpc.logfields import DEVICE, ORG, REQUEST, SERIAL


def check(path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AURA_")}
    return subprocess.run(
        [sys.executable, "-m", "aura_grpc.cli", "config", "check", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_config_check_accepts_a_good_file_without_starting_anything(
    tmp_path: Path,
) -> None:
    config = tmp_path / "aura.yaml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\nmetrics_port: 9999\nlog_format: json\n"
    )
    result = check(config)
    assert result.returncode == 0, result.stderr
    assert "configuration OK" in result.stdout and "metrics port 9999" in result.stdout
    assert not (tmp_path / "state").exists()


def test_config_check_reports_every_problem_at_once(tmp_path: Path) -> None:
    config = tmp_path / "aura.yaml"
    config.write_text("api_port: 0\nmetrics_port: -1\nno_such_key: 1\n")
    result = check(config)
    assert result.returncode == 2
    for name in ("api_port", "metrics_port", "no_such_key"):
        assert name in result.stderr, name


def test_config_check_names_an_unreadable_file(tmp_path: Path) -> None:
    result = check(tmp_path / "missing.yaml")
    assert result.returncode == 2 and "cannot read" in result.stderr


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """JSON logging into a buffer; the root logger is put back afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    logfields.configure("INFO", "json")
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    try:
        yield stream
    finally:
        root.handlers[:], root.level = saved[0], saved[1]


def test_json_log_lines_carry_the_fields_and_nothing_else(
    json_logs: io.StringIO,
) -> None:
    logging.getLogger("aura.test").info(
        "certificate issued",
        extra={
            ORG: "org_1",
            DEVICE: "dev_1",
            SERIAL: "ab",
            REQUEST: "req-1",
            "token": "aura_tok_secret",
        },
    )
    stream = json_logs
    line = json.loads(stream.getvalue().strip())
    assert line["message"] == "certificate issued" and line["level"] == "INFO"
    assert (line[ORG], line[DEVICE], line[SERIAL], line[REQUEST]) == (
        "org_1",
        "dev_1",
        "ab",
        "req-1",
    )
    assert "aura_tok_secret" not in stream.getvalue()


def test_lines_logged_while_serving_a_call_carry_its_request_id(
    json_logs: io.StringIO,
) -> None:
    bound = logfields.current_request.set("req-42")
    try:
        logging.getLogger("aura.test").info("inside a call")
    finally:
        logfields.current_request.reset(bound)
    assert json.loads(json_logs.getvalue())[REQUEST] == "req-42"
