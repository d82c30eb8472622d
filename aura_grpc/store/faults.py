"""Which database failures mean "the database is not there right now".

A locked SQLite file (past busy_timeout), a PostgreSQL server that is down or
restarting, a dropped connection or an exhausted pool all say nothing about the
request: the caller gets UNAVAILABLE with a retry hint, never a verdict. Errors
that do say something (an integrity violation: a bug) stay what they are.
"""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

from aura_grpc.errors import RETRY_AFTER, Unavailable

RETRY_SECONDS = 1


def database_fault(error: BaseException) -> Unavailable | None:
    """The `Unavailable` to answer for `error`, or None if it is no outage."""
    outage = isinstance(
        error,
        sa_exc.OperationalError
        | sa_exc.InterfaceError
        | sa_exc.TimeoutError
        | sa_exc.DisconnectionError
        | ConnectionError,
    ) or (isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated)
    if not outage:
        return None
    return Unavailable(
        "the database is unavailable; retry shortly",
        reason="DATABASE_UNAVAILABLE",
        metadata={RETRY_AFTER: str(RETRY_SECONDS)},
    )
