#!/usr/bin/env bash
# `make test`: start the local Kafka broker unless one is configured, run the whole suite, stop what we started.
# Under CI=true a broker that cannot start fails the run (the Kafka tests fail rather than skip).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
KAFKA="$ROOT/deploy/local/kafka.sh"
started=0

stop_started() {
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

"$ROOT/.venv/bin/python" -m pytest "$@"
