"""Answers as tables for people or as JSON for scripts (`--json`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

_console = Console(soft_wrap=True)


def emit_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True))


def emit_table(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str], title: str = ""
) -> None:
    table = Table(title=title or None)
    for column in columns:
        # Ids and serials are what people copy: wrap them, never cut them.
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row.get(column)) for column in columns))
    _console.print(table)


def emit_fields(data: Mapping[str, Any], skip: Sequence[str] = ()) -> None:
    """One `name: value` line each, for a single object."""
    width = max((len(k) for k in data), default=0)
    for key, value in data.items():
        if key not in skip:
            _console.print(f"{key.ljust(width)}  {_cell(value)}", highlight=False)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)
