"""Online SQLite backup and offline restore.

Backup uses SQLite's backup API on a read-only connection, so it is consistent
while the server keeps writing (WAL readers see one snapshot). Restore writes a
temporary copy beside the database and renames it into place; it refuses while
a server holds the backend socket. CRL numbers never go down: where the
database being replaced already had a higher number for a CA, that number is
kept (the caller then re-signs every live CRL, so the next one is higher still).
The CA keys sealed under the master key are not in the database: the master
key file must be kept (and restored) beside it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from aura_grpc.errors import AlreadyExists, InvalidInput, PreconditionFailed

# Tables a file must have to be an AURA database.
REQUIRED_TABLES = frozenset(
    {"alembic_version", "orgs", "certificates", "certificate_authorities"}
)


@dataclass(frozen=True)
class Summary:
    orgs: int
    devices: int
    certificates: int
    authorities: int


def sqlite_path(database_url: str) -> Path:
    """The file behind a sqlite URL; other databases have their own tools."""
    # TODO: PostgreSQL (pg_dump/pg_restore) gets no CRL-number guard; this can go
    # when restore reads and keeps the target's numbers over asyncpg too.
    scheme, _, rest = database_url.partition("://")
    if not scheme.startswith("sqlite") or not rest.startswith("/"):
        raise InvalidInput(
            "backup and restore handle SQLite only; use pg_dump for PostgreSQL",
            reason="NOT_SQLITE",
        )
    path = rest[1:]
    if not path or path == ":memory:":
        raise InvalidInput("an in-memory database cannot be backed up")
    return Path(path)


def backup(database: Path, target: Path) -> Summary:
    if target.exists():
        raise AlreadyExists(f"{target} exists; choose a new file")
    if not database.exists():
        raise PreconditionFailed(f"no database at {database}")
    if not target.parent.is_dir():
        raise PreconditionFailed(f"{target.parent} is not a folder")

    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    partial = target.with_name(target.name + ".partial")
    try:
        destination = sqlite3.connect(partial)
        with contextlib.closing(destination):
            source.backup(destination)
    finally:
        source.close()
    summary = inspect(partial)
    partial.rename(target)
    return summary


def inspect(path: Path) -> Summary:
    """Check that `path` is a sound AURA database and count what it holds."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise InvalidInput(f"{path} is not a SQLite database") from exc
    with contextlib.closing(connection):
        try:
            tables = {row[0] for row in connection.execute(_TABLES)}
            integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise InvalidInput(f"{path} is not a SQLite database") from exc
        missing = REQUIRED_TABLES - tables
        if missing or integrity != "ok":
            raise InvalidInput(f"{path} is not a sound AURA database")
        counts = [
            connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608  # fixed table names
            for table in ("orgs", "devices", "certificates", "certificate_authorities")
        ]
    return Summary(*counts)


def restore(source: Path, database: Path, backend_socket: Path) -> Summary:
    """Replace `database` with the backup at `source` (server stopped)."""
    if _socket_in_use(backend_socket):
        raise PreconditionFailed(
            "a server is running on this state directory: stop it first",
            reason="SERVER_RUNNING",
        )
    summary = inspect(source)
    previous = _crl_numbers(database) if database.exists() else {}

    database.parent.mkdir(parents=True, exist_ok=True)
    staging = database.with_name(database.name + ".restoring")
    staging.unlink(missing_ok=True)
    backup_connection = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        staged = sqlite3.connect(staging)
        with contextlib.closing(staged):
            backup_connection.backup(staged)
            _keep_higher_crl_numbers(staged, previous)
    finally:
        backup_connection.close()

    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    os.replace(staging, database)
    return summary


_TABLES = "SELECT name FROM sqlite_master WHERE type = 'table'"


def _crl_numbers(database: Path) -> dict[str, int]:
    try:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        with contextlib.closing(connection):
            rows = connection.execute(
                "SELECT id, crl_number FROM certificate_authorities"
            ).fetchall()
    except sqlite3.Error:
        return {}  # not an AURA database (yet): nothing to keep
    return {str(ca_id): int(number) for ca_id, number in rows}


def _keep_higher_crl_numbers(
    connection: sqlite3.Connection, previous: dict[str, int]
) -> None:
    with connection:
        for ca_id, number in previous.items():
            connection.execute(
                "UPDATE certificate_authorities SET crl_number = ? "
                "WHERE id = ? AND crl_number < ?",
                (number, ca_id, number),
            )


def _socket_in_use(path: Path) -> bool:
    if not path.exists():
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1)
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True
