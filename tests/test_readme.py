"""The README's scope table is generated from the code and must stay current."""

from __future__ import annotations

from pathlib import Path

from aura_grpc.auth.scopes import markdown_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_scope_table_matches_the_code() -> None:
    text = README.read_text()
    start = text.index("<!-- scope-table")
    end = text.index("<!-- /scope-table -->")
    table = text[start:end].split("\n", 1)[1].strip()
    assert table == markdown_table()


def test_readme_starts_with_the_two_commands() -> None:
    text = README.read_text()
    block = text.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make run", "make test"]
