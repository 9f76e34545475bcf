#!/usr/bin/env bash
# `make lint-deploy`: validate everything under deploy/ that a cluster, Compose, Prometheus or Grafana would
# read, with the tools of deploy/local/tools.sh (fetched into a cache on first use).
#
#   1. docker compose config -q          deploy/compose.yaml (the compose binary from tools.sh when the
#                                          machine's `docker compose` is missing)
#   2. promtool check config / rules      deploy/prometheus/prometheus.yml (with its rule files), alerts.yaml
#      promtool test rules                deploy/prometheus/alerts_test.yaml
#   3. kubectl kustomize | kubeconform     deploy/k8s (the base) and deploy/k8s-observability (the base plus the
#        -strict                          KEDA / ServiceMonitor / dashboards Component, against CRD schemas);
#                                          alerts.yaml as the PrometheusRule of deploy/k8s/README.md
#   4. deploy/lint/checks.py              Grafana dashboards (JSON schema + structure), every series named by
#                                          a dashboard or alert is in docs/operations.md's Series table, alert
#                                          annotations, KEDA vs manifests, compose scrape targets
#
# Every step runs; the exit status is 1 if any failed, 3 if the tools could not be fetched.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT" || exit 1

TOOLS="$(deploy/local/tools.sh install)"
status=$?
if ((status != 0)); then
  echo "lint-deploy: the deploy tools are not available (deploy/local/tools.sh install exited $status)" >&2
  exit "$status"
fi
BIN="$TOOLS/bin"
PY="$TOOLS/venv/bin/python"
SCHEMAS="$TOOLS/schemas"
KUBERNETES_VERSION="${KUBERNETES_VERSION:-1.33.0}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

failed=()
step() {
  local name="$1"
  shift
  echo "== $name"
  if ! "$@"; then
    echo "!! $name FAILED"
    failed+=("$name")
  fi
}

compose_config() {
  local compose=("$BIN/docker-compose")
  if docker compose version >/dev/null 2>&1; then compose=(docker compose); fi
  # the two variables compose.yaml requires (${VAR:?}); any value will do for validation
  ANALYTICS_AUTH_JWT_SECRET=lint-only ANALYTICS_FILES_SIGNING_KEY=lint-only \
    "${compose[@]}" -f deploy/compose.yaml config --quiet && echo "deploy/compose.yaml: valid ($("${compose[@]}" version --short 2>/dev/null || echo compose))"
}

kubeconform_check() {
  local overlay="$1" out="$WORK/$(basename "$1").yaml"
  "$BIN/kubectl" kustomize "$overlay" >"$out" || return 1
  "$BIN/kubeconform" -strict -summary -output text \
    -kubernetes-version "$KUBERNETES_VERSION" \
    -schema-location "$SCHEMAS/kubernetes/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
    -schema-location "$SCHEMAS/crds/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json" \
    "$out"
}

# the PrometheusRule deploy/k8s/README.md tells how to make from alerts.yaml
prometheus_rule_check() {
  local out="$WORK/prometheusrule.yaml"
  { printf 'apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n  name: analytics\nspec:\n'
    sed 's/^/  /' deploy/prometheus/alerts.yaml; } >"$out"
  "$BIN/kubeconform" -strict -summary -output text \
    -schema-location "$SCHEMAS/crds/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json" "$out"
}

step "docker compose config" compose_config
step "promtool check config" "$BIN/promtool" check config deploy/prometheus/prometheus.yml
step "promtool check rules" "$BIN/promtool" check rules deploy/prometheus/alerts.yaml
step "promtool test rules" "$BIN/promtool" test rules deploy/prometheus/alerts_test.yaml
step "kubeconform deploy/k8s" kubeconform_check deploy/k8s
step "kubeconform deploy/k8s-observability" kubeconform_check deploy/k8s-observability
step "kubeconform PrometheusRule of alerts.yaml" prometheus_rule_check
for check in dashboards series rules keda compose; do
  step "checks.py $check" "$PY" deploy/lint/checks.py "$check"
done

if ((${#failed[@]})); then
  echo "lint-deploy: FAILED: ${failed[*]}"
  exit 1
fi
echo "lint-deploy: all checks passed"
