#!/usr/bin/env bash
# Install what the PostgreSQL tests (tests/nas/test_scale.py) need: Debian's PostgreSQL server and
# client (initdb, pg_ctl, psql) and the Python driver psycopg2-binary in the virtual environment.
# Idempotent: does nothing that is already done. Debian/Ubuntu only (apt-get); without root or
# apt-get it says what to run and exits 0, and the PostgreSQL tests are skipped with that reason.
#
#   scripts/install-postgres.sh            # uses .venv/bin/python of the repository
#   VENV=/path/to/venv scripts/install-postgres.sh
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PYTHON="$VENV/bin/python"

# Debian keeps the server binaries off PATH, under /usr/lib/postgresql/<version>/bin.
pg_bindir() {
    if path="$(command -v pg_ctl 2>/dev/null)" && [ -x "$(dirname "$path")/initdb" ]; then
        dirname "$(readlink -f "$path")"
        return 0
    fi
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -n "$dir" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/initdb" ]; then
        echo "$dir"
        return 0
    fi
    return 1
}

if bindir="$(pg_bindir)"; then
    echo "install-postgres: server already installed: $bindir ($("$bindir/pg_ctl" --version))"
elif [ "$(id -u)" -ne 0 ]; then
    echo "install-postgres: PostgreSQL (initdb, pg_ctl) is missing and this is not root; run" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends postgresql postgresql-client" >&2
    echo "install-postgres: the PostgreSQL tests will be skipped." >&2
elif ! command -v apt-get >/dev/null 2>&1; then
    echo "install-postgres: no apt-get here; install PostgreSQL by hand. The PostgreSQL tests will be skipped." >&2
else
    echo "install-postgres: installing the Debian packages 'postgresql' and 'postgresql-client'"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends postgresql postgresql-client
    bindir="$(pg_bindir)"
    echo "install-postgres: installed: $bindir ($("$bindir/pg_ctl" --version))"
fi

if [ ! -x "$PYTHON" ]; then
    echo "install-postgres: no virtual environment at $VENV (run \`make setup\`); psycopg2 not checked." >&2
elif "$PYTHON" -c "import psycopg2" 2>/dev/null; then
    echo "install-postgres: psycopg2 already importable ($("$PYTHON" -c 'import psycopg2; print(psycopg2.__version__)'))"
else
    echo "install-postgres: installing psycopg2-binary into $VENV"
    "$PYTHON" -m pip install --quiet -c "$ROOT/constraints.txt" psycopg2-binary
    "$PYTHON" -c "import psycopg2; print('install-postgres: psycopg2', psycopg2.__version__)"
fi
