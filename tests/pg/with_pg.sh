#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs CMD [ARG...] next to a throw-away PostgreSQL cluster (docs/registry.md, "PostgreSQL
# backend"): pg_virtualenv (Debian's postgresql-common) creates it in a temporary directory,
# listening on 127.0.0.1 only, on a free port; it is dropped when CMD ends. CMD sees
# PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE (pg_virtualenv's), and
#   CAPV_TEST_PG_URL  postgresql://USER@127.0.0.1:PORT/DB, without password (libpq reads
#                     it from PGPASSWORD)
#   CAPV_TEST_PG_CTL  "pg_ctlcluster VERSION regress": append stop / start to stop or start
#                     the server (the reconnection tests)
# Exits 77 (ctest: skipped) when PostgreSQL is not installed, 1 under CI=true
# (tests/tools/missing.sh).
set -euo pipefail

if [ $# -eq 0 ]; then
    echo "usage: $0 CMD [ARG...]" >&2
    exit 2
fi
if ! command -v pg_virtualenv >/dev/null 2>&1; then
    source "$(dirname "$0")/../tools/missing.sh"
    capv_missing "with_pg: pg_virtualenv (Debian postgresql)" >&2
fi

# A free port (pg_virtualenv would take the first one from 5432 on, which two concurrent runs
# would both pick).
PGPORT=$(python3 "$(dirname "$0")/../../scripts/free-port.py")
export PGPORT

# The leading space makes pg_createcluster quote the address (it writes a dotted number
# unquoted, which postgresql.conf rejects); PostgreSQL ignores it.
exec pg_virtualenv -t -o "listen_addresses= 127.0.0.1" bash -c '
    export CAPV_TEST_PG_URL="postgresql://${PGUSER}@127.0.0.1:${PGPORT}/${PGDATABASE}"
    export CAPV_TEST_PG_CTL="pg_ctlcluster ${PGVERSION} regress"
    exec "$@"' with_pg "$@"
