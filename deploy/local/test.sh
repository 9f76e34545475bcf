#!/usr/bin/env bash
# `make test`: start the local Kafka broker and the local PostgreSQL server unless they are configured, run the
# whole suite, stop what we started.
# Under CI=true a backend that cannot start fails the run (its tests fail rather than skip).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT" || exit 1
KAFKA="$ROOT/deploy/local/kafka.sh"
POSTGRES="$ROOT/deploy/local/postgres.sh"
started=0
postgres_started=0

stop_started() {
  if ((postgres_started)); then "$POSTGRES" down || true; fi
  if ((started)); then "$KAFKA" down || true; fi
}
trap stop_started EXIT

if [[ -z "${ANALYTICS_KAFKA_BOOTSTRAP:-}" ]]; then
  if "$KAFKA" status >/dev/null 2>&1; then
    ANALYTICS_KAFKA_BOOTSTRAP="$("$KAFKA" up | tail -n1)"
  elif bootstrap="$("$KAFKA" up | tail -n1)" && [[ -n "$bootstrap" ]]; then
    started=1
    ANALYTICS_KAFKA_BOOTSTRAP="$bootstrap"
  else
    echo "test.sh: the local Kafka broker did not start; Kafka tests will $([[ "${CI:-}" == true ]] && echo fail || echo skip)" >&2
  fi
  [[ -n "${ANALYTICS_KAFKA_BOOTSTRAP:-}" ]] && export ANALYTICS_KAFKA_BOOTSTRAP
fi

# The same for PostgreSQL (the configuration store): its URL, postgresql+asyncpg://..., is the last line of `up`.
if [[ -z "${ANALYTICS_TEST_DATABASE_URL:-}" ]]; then
  if "$POSTGRES" status >/dev/null 2>&1; then
    ANALYTICS_TEST_DATABASE_URL="$("$POSTGRES" up | tail -n1)"
  elif database_url="$("$POSTGRES" up | tail -n1)" && [[ -n "$database_url" ]]; then
    postgres_started=1
    ANALYTICS_TEST_DATABASE_URL="$database_url"
  else
    echo "test.sh: the local PostgreSQL server did not start; PostgreSQL tests will $([[ "${CI:-}" == true ]] && echo fail || echo skip)" >&2
  fi
  [[ -n "${ANALYTICS_TEST_DATABASE_URL:-}" ]] && export ANALYTICS_TEST_DATABASE_URL
fi

# The deploy linters' tools (tests/unit/test_deploy_lint.py needs them, late in the run): fetched meanwhile
# (a minute or two when the cache is cold); the test's own install waits for this one (a lock) and reports
# what could not be fetched.
mkdir -p "$ROOT/var"
"$ROOT/deploy/local/tools.sh" install >"$ROOT/var/deploy-tools.log" 2>&1 &

# Test files run in ANALYTICS_TEST_WORKERS processes (pytest-xdist; default 2, a file's tests in one process, so
# module fixtures are made once): much of a test's time is spent waiting on a broker, a subprocess or a
# deadline, so two processes halve the suite's time even on two cores. `-n 0` in PYTEST_ARGS runs it in one.
# Files start in tests/conftest.py's order (the slowest first), which --no-loadscope-reorder keeps.
"$ROOT/.venv/bin/python" -m pytest -n "${ANALYTICS_TEST_WORKERS:-2}" --dist loadfile --no-loadscope-reorder "$@"
