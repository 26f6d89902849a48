#!/usr/bin/env bash
# Runs the whole test suite on SQLite and then on PostgreSQL.
#   bash scripts/test.sh            # both databases
#   KEFU_TEST_DATABASES=sqlite bash scripts/test.sh
# PostgreSQL: KEFU_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/kefu_ci); a throwaway
# database test_<name>_<pid> is created and dropped by the test runner.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${KEFU_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e '.[test]'

export KEFU_DATA_DIR=${KEFU_TEST_DATA_DIR:-$(mktemp -d)}
export KEFU_SECRET_KEY=test-only-not-secret

"$VENV/bin/ruff" check src tests bench
"$VENV/bin/python" -m kefu makemigrations --check --dry-run >/dev/null || {
  echo "model changes without migrations: run 'kefu makemigrations'" >&2; exit 1; }

status=0
for db in ${KEFU_TEST_DATABASES:-sqlite postgres}; do
  echo "=== tests on $db ==="
  if [ "$db" = postgres ]; then
    base=${KEFU_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/kefu_ci}
    export KEFU_DATABASE_URL="${base}_$$"
  else
    unset KEFU_DATABASE_URL
  fi
  "$VENV/bin/python" -m pytest -p no:cacheprovider -n "${KEFU_TEST_WORKERS:-2}" "$@" || status=$?
  if [ "$status" -ne 0 ]; then
    echo "tests failed on $db" >&2
    exit "$status"
  fi
done
