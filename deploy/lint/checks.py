"""The deploy checks of `make lint-deploy` that no off-the-shelf tool does (deploy/lint/lint-deploy.sh runs
them with the Python of deploy/local/tools.sh's venv: jsonschema, PyYAML, kubernetes-validate, cloudcoil).

    checks.py schemas --out DIR --kubernetes-version 1.33.0
        kubeconform schemas: Kubernetes' own (from the kubernetes-validate package, rewritten so that
        kubeconform resolves their references locally) and the KEDA ScaledObject and Prometheus-operator
        ServiceMonitor and PrometheusRule CRDs (JSON schemas of the cloudcoil models generated from those
        CRDs, closed to unknown fields like kubeconform's -strict Kubernetes schemas)
    checks.py dashboards   every deploy/grafana/dashboards/*.json against grafana-dashboard.schema.json, plus
                           unique uids and panel ids, the 24-column grid without overlaps, one Prometheus
                           datasource variable, PromQL targets with unique refIds
    checks.py series       every metric named by an alert rule or a dashboard query is a series of the Series
                           table of docs/operations.md (histograms through _bucket/_sum/_count), or `up`
    checks.py rules        every alert has summary, description and a runbook docs/operations.md#anchor
    checks.py keda         the ScaledObjects agree with the manifests: target Deployment and its --agents
                           group, consumer group, bootstrap servers, maxReplicaCount <= topic partitions
    checks.py compose      compose.yaml's Prometheus scrapes every service (gateway, query, worker) and mounts
                           the files this folder lints

Stdlib, PyYAML and jsonschema only (kubernetes_validate and cloudcoil for `schemas`); exit 1 on a finding.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"
DASHBOARD_SCHEMA = DEPLOY / "lint" / "grafana-dashboard.schema.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yaml"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
OPERATIONS = ROOT / "docs" / "operations.md"
SERIES_ROW = re.compile(r"^\| `(analytics_\w+)` \| (counter|gauge|histogram) \|", re.MULTILINE)
ALWAYS_ALLOWED = {"up"}
"""Series Prometheus itself writes for every target."""
STRICT_RUNBOOK_ANCHORS = True
"""False while docs/operations.md has no runbook sections yet: a missing anchor is printed, not a failure."""

PROMQL_KEYWORDS = {
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "bool",
    "inf",
    "nan",
    "atan2",
}


class Findings:
    def __init__(self, check: str) -> None:
        self.check = check
        self.errors: list[str] = []

    def error(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")

    def finish(self, summary: str) -> int:
        for line in self.errors:
            print(f"{self.check}: {line}", file=sys.stderr)
        if self.errors:
            print(f"{self.check}: {len(self.errors)} problem(s)", file=sys.stderr)
            return 1
        print(f"{self.check}: ok, {summary}")
        return 0


# ------------------------------------------------------------------------------------------------ schemas


def _strict(node: Any) -> Any:
    """Close every object schema that lists its properties (what kubeconform's -strict schemas do)."""
    if isinstance(node, dict):
        out = {key: _strict(value) for key, value in node.items()}
        if "properties" in out and "additionalProperties" not in out and "patternProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_strict(item) for item in node]
    return node


def cmd_schemas(args: argparse.Namespace) -> int:
    import kubernetes_validate
    from cloudcoil.models.keda.v1alpha1 import ScaledObject
    from cloudcoil.models.prometheus_operator.v1 import PrometheusRule, ServiceMonitor

    version = args.kubernetes_version.removeprefix("v")
    source = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"v{version}-local-strict"
    if not source.is_dir():
        available = sorted(p.name for p in source.parent.glob("v*-local-strict"))
        print(
            f"schemas: no Kubernetes {version} schemas in kubernetes-validate; it has {available}",
            file=sys.stderr,
        )
        return 1
    out = Path(args.out)
    k8s = out / "kubernetes" / f"v{version}-standalone-strict"
    if k8s.exists():
        shutil.rmtree(k8s)
    k8s.mkdir(parents=True)
    for path in source.glob("*.json"):
        schema = json.loads(path.read_text())
        # "$id": "https://kubernetes.io/api/..." would make the references resolve on kubernetes.io; without
        # it they resolve against the file, and "/api/_definitions.json" becomes the file next to it
        schema.pop("$id", None)
        text = json.dumps(schema).replace('"/api/_definitions.json#', '"_definitions.json#')
        (k8s / path.name).write_text(text)
    crds = out / "crds"
    for group, name, model in (
        ("keda.sh", "scaledobject_v1alpha1", ScaledObject),
        ("monitoring.coreos.com", "servicemonitor_v1", ServiceMonitor),
        ("monitoring.coreos.com", "prometheusrule_v1", PrometheusRule),
    ):
        (crds / group).mkdir(parents=True, exist_ok=True)
        schema = _strict(model.model_json_schema(by_alias=True))
        (crds / group / f"{name}.json").write_text(json.dumps(schema, indent=1))
    print(
        f"schemas: Kubernetes v{version} ({len(list(k8s.glob('*.json')))} files) and 3 CRD schemas in {out}"
    )
    return 0


# ------------------------------------------------------------------------------------------------ PromQL


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (not a full PromQL parser: strings, label matchers, ranges,
    grouping label lists, function calls, keywords and numbers are taken out, what remains are selectors)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in PROMQL_KEYWORDS:
            continue
        names.add(name)
    return names


def _shown(path: Path) -> str:
    """A path as the findings print it: relative to the repository when it is in it."""
    try:
        return path.relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def documented_series() -> dict[str, str]:
    """Series name -> type of docs/operations.md's Series table."""
    return dict(SERIES_ROW.findall(OPERATIONS.read_text()))


def selectable(series: dict[str, str]) -> dict[str, str]:
    """Every name a query may select -> the documented series it belongs to."""
    names = {}
    for name, kind in series.items():
        if kind == "histogram":
            for suffix in ("_bucket", "_sum", "_count"):
                names[name + suffix] = name
        else:
            names[name] = name
    return names


def alert_rules() -> Iterator[dict[str, Any]]:
    for group in yaml.safe_load(ALERTS.read_text())["groups"]:
        yield from group["rules"]


def dashboard_queries() -> Iterator[tuple[str, str, str]]:
    """(dashboard file, panel title, expression) of every query of every dashboard, variables included."""
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in _panels(board.get("panels", [])):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    yield path.name, panel.get("title", "?"), target["expr"]
        for variable in board.get("templating", {}).get("list", []):
            query = variable.get("query")
            if variable.get("type") == "query":
                text = query.get("query", "") if isinstance(query, dict) else (query or "")
                inner = re.search(r"\((.*)\)", text)  # label_values(metric, label), query_result(expr)
                if inner:
                    yield path.name, f"variable {variable['name']}", inner.group(1).split(",")[0]


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def cmd_series(args: argparse.Namespace) -> int:
    findings = Findings("series")
    series = documented_series()
    if not series:
        findings.error(_shown(OPERATIONS), "no rows starting with | `analytics_ in the Series table")
        return findings.finish("")
    allowed = selectable(series)
    used: set[str] = set()
    count = 0
    sources = [
        (_shown(ALERTS), f"alert {rule['alert']}", rule["expr"]) for rule in alert_rules() if "alert" in rule
    ]
    sources += [
        (_shown(DASHBOARDS / name), f"panel {title!r}", expr) for name, title, expr in dashboard_queries()
    ]
    for where, what, expr in sources:
        names = metric_names(expr)
        if not names:
            findings.error(where, f"{what}: names no series: {expr!r}")
        for name in sorted(names):
            count += 1
            if name in ALWAYS_ALLOWED:
                continue
            if name in allowed:
                used.add(allowed[name])
                continue
            hint = ""
            if series.get(name) == "histogram":
                hint = " (a histogram: select its _bucket, _sum or _count)"
            elif name + "_total" in series:
                hint = f" (the counter is {name}_total)"
            findings.error(where, f"{what}: {name} is not a series of docs/operations.md{hint}")
    unused = sorted(set(series) - used)
    if unused and not findings.errors:
        print(f"series: documented but on no dashboard or alert: {', '.join(unused)}")
    return findings.finish(
        f"{count} metric references in {len(sources)} queries, all among the "
        f"{len(series)} documented series ({len(used)} of them used)"
    )


# ------------------------------------------------------------------------------------------------ rules


def github_anchors(markdown: str) -> set[str]:
    anchors = set(re.findall(r'<a\s+(?:id|name)="([^"]+)"', markdown))
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", markdown, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", "")).replace(" ", "-")
        anchors.add(slug)
    return anchors


def cmd_rules(args: argparse.Namespace) -> int:
    findings = Findings("rules")
    anchors = github_anchors(OPERATIONS.read_text())
    missing_anchor = []
    names = set()
    for rule in alert_rules():
        if "alert" not in rule:
            continue
        name = rule["alert"]
        where = f"deploy/prometheus/alerts.yaml alert {name}"
        if name in names:
            findings.error(where, "alert name used twice")
        names.add(name)
        annotations = rule.get("annotations", {})
        for key in ("summary", "description", "runbook"):
            if not str(annotations.get(key, "")).strip():
                findings.error(where, f"no {key} annotation")
        if rule.get("labels", {}).get("severity") not in {"warning", "critical"}:
            findings.error(where, "severity label must be warning or critical")
        runbook = str(annotations.get("runbook", ""))
        match = re.fullmatch(r"docs/operations\.md#([a-z0-9-]+)", runbook)
        if not match:
            findings.error(where, f"runbook {runbook!r} is not docs/operations.md#<anchor>")
        elif match.group(1) not in anchors:
            missing_anchor.append(f"{name} -> #{match.group(1)}")
    if missing_anchor:
        message = "runbook anchors not (yet) in docs/operations.md: " + ", ".join(missing_anchor)
        if STRICT_RUNBOOK_ANCHORS:
            findings.error("docs/operations.md", message)
        else:
            print(f"rules: note: {message}")
    return findings.finish(f"{len(names)} alerts with summary, description, severity and runbook")


# ------------------------------------------------------------------------------------------------ dashboards


def cmd_dashboards(args: argparse.Namespace) -> int:
    from jsonschema import Draft202012Validator

    findings = Findings("dashboards")
    validator = Draft202012Validator(json.loads(DASHBOARD_SCHEMA.read_text()))
    uids: dict[str, str] = {}
    titles: dict[str, str] = {}
    files = sorted(DASHBOARDS.glob("*.json"))
    if not files:
        findings.error("deploy/grafana/dashboards", "no dashboards")
    panels_seen = 0
    for path in files:
        where = _shown(path)
        try:
            board = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            findings.error(where, f"not JSON: {exc}")
            continue
        for error in sorted(validator.iter_errors(board), key=lambda e: list(e.absolute_path)):
            location = "/".join(str(part) for part in error.absolute_path) or "(top)"
            findings.error(where, f"schema: {location}: {error.message[:200]}")
        if not isinstance(board, dict):
            continue
        for key, seen in (("uid", uids), ("title", titles)):
            value = str(board.get(key))
            if value in seen:
                findings.error(where, f"{key} {value!r} also used by {seen[value]}")
            seen[value] = path.name
        variables = {v.get("name"): v for v in board.get("templating", {}).get("list", [])}
        datasource_variable = variables.get("datasource")
        if (
            not datasource_variable
            or datasource_variable.get("type") != "datasource"
            or datasource_variable.get("query") != "prometheus"
        ):
            findings.error(
                where, "needs the templating variable `datasource` (type datasource, query prometheus)"
            )
        ids: set[Any] = set()
        cells: dict[tuple[int, int], str] = {}
        for panel in _panels(board.get("panels", [])):
            panels_seen += 1
            title = panel.get("title", "?")
            pid = panel.get("id")
            if pid in ids:
                findings.error(where, f"panel {title!r}: id {pid} used twice")
            ids.add(pid)
            grid = panel.get("gridPos", {})
            x, y, w, h = (grid.get(k, 0) for k in ("x", "y", "w", "h"))
            if x + w > 24:
                findings.error(where, f"panel {title!r}: x {x} + w {w} is wider than the 24-column grid")
            for cx in range(x, min(x + w, 24)):
                for cy in range(y, y + h):
                    if (cx, cy) in cells:
                        findings.error(where, f"panel {title!r} overlaps panel {cells[(cx, cy)]!r}")
                        break
                    cells[(cx, cy)] = title
                else:
                    continue
                break
            if panel.get("type") == "row":
                continue
            datasource = panel.get("datasource", {})
            if datasource != {"type": "prometheus", "uid": "${datasource}"}:
                findings.error(
                    where, f"panel {title!r}: datasource must be the Prometheus variable ${{datasource}}"
                )
            if not panel.get("description"):
                findings.error(where, f"panel {title!r}: no description (the panel's ⓘ tells what it shows)")
            refs = [t.get("refId") for t in panel.get("targets", [])]
            if len(refs) != len(set(refs)):
                findings.error(where, f"panel {title!r}: refIds repeat: {refs}")
            for target in panel.get("targets", []):
                if target.get("datasource", datasource) != datasource:
                    findings.error(where, f"panel {title!r} target {target.get('refId')}: another datasource")
                expr = target.get("expr", "")
                if expr.count("(") != expr.count(")") or expr.count("{") != expr.count("}"):
                    findings.error(
                        where, f"panel {title!r} target {target.get('refId')}: unbalanced brackets"
                    )
    return findings.finish(f"{len(files)} dashboards, {panels_seen} panels")


# ------------------------------------------------------------------------------------------------ KEDA


def _docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def cmd_keda(args: argparse.Namespace) -> int:
    findings = Findings("keda")
    k8s = DEPLOY / "k8s"
    deployments = {d["metadata"]["name"]: d for d in _docs(k8s / "workers.yaml") if d["kind"] == "Deployment"}
    config = next(d for d in _docs(k8s / "configmap.yaml") if d["kind"] == "ConfigMap")["data"]
    topics_args = next(d for d in _docs(k8s / "job-topics.yaml") if d["kind"] == "Job")
    job_args = topics_args["spec"]["template"]["spec"]["containers"][0]["args"]
    partitions = int(job_args[job_args.index("--partitions") + 1])
    # the default of ANALYTICS_WORKER_GROUP_PREFIX (read from the source: the lint venv lacks the project)
    settings = (ROOT / "stream_processors" / "settings.py").read_text()
    found = re.search(r'^\s*worker_group_prefix: str = "([^"]*)"', settings, re.MULTILINE)
    prefix = found.group(1) if found else "analytics-"
    scaled = [d for d in _docs(k8s / "observability" / "scaledobjects.yaml") if d["kind"] == "ScaledObject"]
    targets = set()
    for obj in scaled:
        name = obj["metadata"]["name"]
        where = f"deploy/k8s/observability/scaledobjects.yaml {name}"
        spec = obj["spec"]
        target = spec["scaleTargetRef"]["name"]
        targets.add(target)
        deployment = deployments.get(target)
        if deployment is None:
            findings.error(where, f"scaleTargetRef {target} is not a Deployment of workers.yaml")
            continue
        agent_args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        group = agent_args[agent_args.index("--agents") + 1]
        if "," in group:
            findings.error(
                where, f"{target} runs several agent groups ({group}); scale one group per Deployment"
            )
        if spec.get("maxReplicaCount", 100) > partitions:
            findings.error(
                where,
                f"maxReplicaCount {spec.get('maxReplicaCount')} exceeds the {partitions} "
                "partitions of job-topics.yaml: the extra replicas would idle",
            )
        if spec.get("minReplicaCount", 0) < 1:
            findings.error(
                where,
                "minReplicaCount must be >= 1: with no worker the group commits nothing and "
                "the scaler has no lag to read",
            )
        for trigger in spec.get("triggers", []):
            if trigger.get("type") != "kafka":
                continue
            meta = trigger["metadata"]
            if meta.get("consumerGroup") != f"{prefix}{group}":
                findings.error(where, f"consumerGroup {meta.get('consumerGroup')} is not {prefix}{group}")
            if meta.get("bootstrapServers") != config.get("ANALYTICS_KAFKA_BOOTSTRAP"):
                findings.error(
                    where, "bootstrapServers differs from ANALYTICS_KAFKA_BOOTSTRAP of configmap.yaml"
                )
            topic = meta.get("topic")
            if topic and not topic.startswith(config.get("ANALYTICS_TOPIC_PREFIX", "analytics.")):
                findings.error(where, f"topic {topic} lacks ANALYTICS_TOPIC_PREFIX")
    for name in sorted(set(deployments) - targets):
        findings.error(
            "deploy/k8s/observability/scaledobjects.yaml", f"no ScaledObject for Deployment {name}"
        )
    return findings.finish(f"{len(scaled)} ScaledObjects, at most {partitions} replicas (partitions)")


# ------------------------------------------------------------------------------------------------ compose


def cmd_compose(args: argparse.Namespace) -> int:
    findings = Findings("compose")
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    scraped = {}
    for job in config.get("scrape_configs", []):
        for sd in job.get("dns_sd_configs", []):
            for name in sd.get("names", []):
                scraped[name] = sd.get("port")
    expected = {"gateway": 8000, "query": 8001, "worker": 9102}
    for service, port in expected.items():
        if service not in services:
            findings.error("deploy/compose.yaml", f"no service {service}")
        if scraped.get(service) != port:
            findings.error("deploy/prometheus/prometheus.yml", f"no dns_sd_configs job for {service}:{port}")
    worker_env = services.get("worker", {}).get("environment", {})
    if worker_env.get("ANALYTICS_WORKER_METRICS_HOST") != "0.0.0.0":
        findings.error("deploy/compose.yaml", "worker must set ANALYTICS_WORKER_METRICS_HOST: 0.0.0.0")
    for service in ("prometheus", "grafana"):
        if service not in services:
            findings.error("deploy/compose.yaml", f"no service {service}")
    return findings.finish(f"Prometheus scrapes {', '.join(f'{s}:{p}' for s, p in expected.items())}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    schemas = sub.add_parser("schemas")
    schemas.add_argument("--out", required=True)
    schemas.add_argument("--kubernetes-version", default="1.33.0")
    for name in ("dashboards", "series", "rules", "keda", "compose"):
        sub.add_parser(name)
    args = parser.parse_args(argv)
    command = {
        "schemas": cmd_schemas,
        "dashboards": cmd_dashboards,
        "series": cmd_series,
        "rules": cmd_rules,
        "keda": cmd_keda,
        "compose": cmd_compose,
    }[args.command]
    return command(args)


if __name__ == "__main__":
    sys.exit(main())
