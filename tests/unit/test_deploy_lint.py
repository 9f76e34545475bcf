"""`make lint-deploy` passes on the repository: compose config, promtool (config, rules, rule unit tests),
kustomize + kubeconform on the Kubernetes manifests with and without the observability Component, the Grafana
dashboards' schema, and every series named by a dashboard or an alert is one docs/operations.md documents.

The tools come from deploy/local/tools.sh, cached in ~/.cache/event-analytics/tools: the first fetch takes
about a minute and a half (kubeconform is built with Go), later runs take seconds. When they cannot be fetched
(no Go, a registry unreachable) the test is skipped, and fails under CI=true, as deploy/local/test.sh does for
Kafka. The other tests check deploy/lint/checks.py itself on inputs it must reject.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNAVAILABLE = 3
"""tools.sh's exit status when a tool cannot be fetched (as opposed to a lint failure)."""
FIRST_FETCH_TIMEOUT_S = 45 * 60
LINT_TIMEOUT_S = 300


def _checks() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "deploy_lint_checks", ROOT / "deploy" / "lint" / "checks.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the deploy tools must be fetchable)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def deploy_tools() -> Path:
    try:
        result = subprocess.run(
            ["bash", "deploy/local/tools.sh", "install"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=FIRST_FETCH_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        _unavailable(f"deploy/local/tools.sh install took over {FIRST_FETCH_TIMEOUT_S} s")
        raise
    if result.returncode == UNAVAILABLE:
        _unavailable(f"the deploy tools cannot be fetched: {result.stderr.strip()[-1500:]}")
    assert result.returncode == 0, result.stderr[-4000:]
    return Path(result.stdout.strip().splitlines()[-1])


def test_lint_deploy_passes(deploy_tools: Path) -> None:
    result = subprocess.run(
        ["bash", "deploy/lint/lint-deploy.sh"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=LINT_TIMEOUT_S,
    )
    if result.returncode == UNAVAILABLE:
        _unavailable(f"the deploy tools cannot be fetched: {result.stderr.strip()[-1500:]}")
    assert result.returncode == 0, f"{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    for step in (
        "docker compose config",
        "promtool check config",
        "promtool check rules",
        "promtool test rules",
        "kubeconform deploy/k8s",
        "kubeconform deploy/k8s-observability",
        "checks.py dashboards",
        "checks.py series",
    ):
        assert f"== {step}\n" in result.stdout
    assert "lint-deploy: all checks passed" in result.stdout


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'sum by (stream) (rate(analytics_worker_events_total{outcome="stored"}[5m]))',
            {"analytics_worker_events_total"},
        ),
        (
            "histogram_quantile(0.9, sum by (le) (rate(analytics_worker_freshness_seconds_bucket[5m]))) > 60",
            {"analytics_worker_freshness_seconds_bucket"},
        ),
        (
            "time() - max by (group) (analytics_worker_last_commit_timestamp_seconds offset 1h) > bool 1e3",
            {"analytics_worker_last_commit_timestamp_seconds"},
        ),
        (
            'deriv(sum by (group) (a_lag)[10m:1m]) > 0 and on (group) b or absent(c{group="raw"}) unless up',
            {"a_lag", "b", "c", "up"},
        ),
        ('x / on (instance) group_left (route, status) y{route!~"/healthz|/readyz"}', {"x", "y"}),
    ],
)
def test_metric_names_are_the_selectors(expr: str, names: set[str]) -> None:
    assert _checks().metric_names(expr) == names


def test_series_check_rejects_undocumented_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    checks = _checks()
    alerts = tmp_path / "alerts.yaml"
    alerts.write_text(
        "groups:\n- name: g\n  rules:\n"
        "  - alert: A\n    expr: rate(analytics_gateway_events_accepted[5m]) > 0\n"
        "  - alert: B\n    expr: analytics_worker_freshness_seconds > 60\n"
        "  - alert: C\n    expr: sum(analytics_worker_ready) == 0 or up == 0\n"
    )
    monkeypatch.setattr(checks, "ALERTS", alerts)
    monkeypatch.setattr(checks, "DASHBOARDS", tmp_path)
    assert checks.cmd_series(None) == 1
    err = capsys.readouterr().err
    assert "analytics_gateway_events_accepted is not a series" in err and "counter is" in err
    assert "analytics_worker_freshness_seconds is not a series" in err and "a histogram" in err
    assert "analytics_worker_ready" not in err


def test_dashboard_check_rejects_a_broken_dashboard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    checks = _checks()
    board = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "ingestion.json").read_text())
    panels = [p for p in board["panels"] if p["type"] != "row"]
    panels[0]["gridPos"]["w"] = 30
    panels[1]["id"] = panels[2]["id"]
    panels[3]["targets"] = []
    del panels[4]["datasource"]
    (tmp_path / "broken.json").write_text(json.dumps(board))
    monkeypatch.setattr(checks, "DASHBOARDS", tmp_path)
    assert checks.cmd_dashboards(None) == 1
    err = capsys.readouterr().err
    assert "greater than the maximum of 24" in err
    assert "used twice" in err
    assert "should be non-empty" in err or "too short" in err
    assert "'datasource' is a required property" in err
