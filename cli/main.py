"""``analytics``: one console command for every role, so one image serves them all.

Subcommands import their service lazily: ``analytics migrate`` must not pay for (or need) the web stack.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Sequence

from plumbing.clickhouse import StoreHeldError, StoreUnavailableError
from plumbing.settings import CommonSettings

Handler = Callable[[argparse.Namespace], int]


def _cmd_migrate(args: argparse.Namespace) -> int:
    from plumbing.clickhouse import open_for_command
    from plumbing.migrate import migrate

    settings = CommonSettings()
    url = args.clickhouse_url or settings.clickhouse_url
    database = args.database or settings.clickhouse_database
    client = open_for_command(url, database, create_database=True)
    try:
        applied = migrate(client)
    finally:
        client.close()
    for migration in applied:
        print(f"applied {migration.version:04d}_{migration.name}")
    print(f"database {database} is up to date ({len(applied)} applied now)")
    return 0


def _cmd_topics(args: argparse.Namespace) -> int:
    from plumbing.kafka_admin import ensure_topics
    from schemas.topics import registry

    settings = CommonSettings()
    bootstrap = args.bootstrap or settings.kafka_bootstrap
    specs = list(registry(settings.topic_prefix, args.partitions).values())
    created = asyncio.run(ensure_topics(bootstrap, specs, args.replication_factor))
    for name in created:
        print(f"created {name}")
    print(f"{len(specs) * 2} topics present on {bootstrap} ({len(created)} created now)")
    return 0


def _cmd_query(args: argparse.Namespace) -> int:
    from query_api.__main__ import serve

    return serve(host=args.host, port=args.port)


def _cmd_gateway(args: argparse.Namespace) -> int:
    from ingest_gateway.__main__ import serve

    return serve(host=args.host, port=args.port, workers=args.workers)


def _cmd_worker(args: argparse.Namespace) -> int:
    from stream_processors.__main__ import parse_groups, run_worker

    return run_worker(parse_groups(args.agents))


def _cmd_lag(args: argparse.Namespace) -> int:
    import time

    from aiokafka.errors import KafkaError

    from plumbing.kafka_lag import consumer_lag
    from schemas.topics import registry
    from stream_processors.__main__ import parse_groups
    from stream_processors.settings import WorkerSettings

    settings = WorkerSettings()
    groups = [f"{settings.worker_group_prefix}{group.value}" for group in parse_groups(args.agents)]
    topics = [spec.name for spec in registry(settings.topic_prefix).values()]
    deadline = time.monotonic() + args.timeout
    while True:
        try:
            lag = asyncio.run(consumer_lag(settings.kafka_bootstrap, groups, topics))
        except KafkaError as exc:  # e.g. the group coordinator is still loading: ask again
            print(f"lag: cannot read the consumer offsets yet ({exc})", file=sys.stderr, flush=True)
            if not args.wait:
                return 1
        else:
            print(", ".join(f"{group} {behind:,}" for group, behind in lag.items()), flush=True)
            if not args.wait or not any(lag.values()):
                return 0
        if time.monotonic() >= deadline:
            print(f"lag: not caught up within {args.timeout:g} s", file=sys.stderr)
            return 1
        time.sleep(args.interval)


def _cmd_dlq(args: argparse.Namespace) -> int:
    import json

    from cli.dlq import list_letters, replay_letters
    from schemas.topics import Stream, registry

    settings = CommonSettings()
    spec = registry(settings.topic_prefix)[Stream(args.stream)]
    if args.action == "list":
        letters = asyncio.run(list_letters(settings.kafka_bootstrap, spec.dead_letter_name, args.limit))
        for letter in letters:
            print(json.dumps(letter.summary()))
        print(f"{len(letters)} dead letters shown from {spec.dead_letter_name}")
        return 0
    group = f"{settings.topic_prefix}dlq-replay"
    count = asyncio.run(
        replay_letters(settings.kafka_bootstrap, spec.dead_letter_name, spec.name, group, args.limit)
    )
    print(f"replayed {count} dead letters from {spec.dead_letter_name} to {spec.name}")
    return 0


def _cmd_rebuild(args: argparse.Namespace) -> int:
    from datetime import date

    from jobs.rebuild import rebuild_rollups
    from jobs.rebuild_queue import run_pending_rebuilds
    from plumbing.clickhouse import open_for_command
    from plumbing.tenant_store import stored_time_zones
    from stream_processors.settings import WorkerSettings

    settings = WorkerSettings()
    client = open_for_command(settings.clickhouse_url, settings.clickhouse_database)
    try:
        if args.pending:
            outcomes = run_pending_rebuilds(client, settings.zone_lookup(), show_progress=True)
            for outcome in outcomes:
                print(f"{outcome.status.value} {outcome.id} ({outcome.tenant_id}, {outcome.events} raw rows)")
            print(f"{len(outcomes)} scheduled rebuild(s) run")
            return 1 if any(o.status.value == "failed" for o in outcomes) else 0
        if not (args.start and args.end):
            print("rebuild-rollups: --from and --to are required (or --pending)", file=sys.stderr)
            return 2
        zones = settings.zone_lookup()
        zones.use_stored(stored_time_zones(client))  # zones saved through the config API win
        report = rebuild_rollups(
            client,
            date.fromisoformat(args.start),
            date.fromisoformat(args.end),
            zones,
            tenant=args.tenant,
            show_progress=True,
        )
    finally:
        client.close()
    skipped = f", {report.skipped} skipped (time outside the supported range)" if report.skipped else ""
    print(f"rebuilt rollups of {report.tenants} tenant(s) from {report.events} raw rows{skipped}")
    return 0


def _cmd_dev(args: argparse.Namespace) -> int:
    from cli.dev_app import create_dev_app
    from ingest_gateway.settings import GatewaySettings
    from plumbing.gc_tuning import tune_for_service

    settings = GatewaySettings()
    host, port = args.host or settings.gateway_host, args.port or settings.gateway_port
    base = f"http://{host}:{port}"
    loopback = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    app = create_dev_app(settings, demo_url=f"http://{loopback}:{port}" if args.demo else None)
    print(f"event analytics (embedded, {settings.clickhouse_url}) on {base}")
    print(f"  ingest   POST {base}/analytics/events   (and /events/batch, /performance, /usage, /activities)")
    print(f"  read     GET  {base}/analytics/dashboard/<user_id>   (and /events, /trends, /insights, ...)")
    print(f"  docs     {base}/docs")
    print(f"  metrics  {base}/metrics")
    token = getattr(app.state, "dev_token", None)
    if token is not None:
        print(f"  token    an admin of tenant {settings.default_tenant} for 30 days (more: analytics token):")
        print(f"           export TOKEN={token}")
        print(f'           curl -H "Authorization: Bearer $TOKEN" {base}/analytics/dashboard/demo_user_1')
    tune_for_service()
    from plumbing.serving import serve_http
    from plumbing.shutdown import ShutdownWatchdog

    abandons = "requests still waiting for the store (not answered, so not acknowledged: clients retry)"
    watchdog = ShutdownWatchdog.from_settings("analytics dev", abandons)
    return serve_http(app, watchdog, host=host, port=port, log_level=settings.log_level.lower())


def _cmd_token(args: argparse.Namespace) -> int:
    from cli.token import TokenRefused, mint_accepted_token

    try:
        print(mint_accepted_token(args.sub, args.tenant, args.role, args.ttl))
    except TokenRefused as exc:
        print(f"analytics token: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _cmd_loadgen(args: argparse.Namespace) -> int:
    from loadgen.command import main as loadgen

    return loadgen(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="analytics", description="Event analytics backend.")
    commands = parser.add_subparsers(dest="command", required=True)

    migrate = commands.add_parser("migrate", help="apply pending ClickHouse migrations")
    migrate.add_argument("--clickhouse-url", help="overrides ANALYTICS_CLICKHOUSE_URL")
    migrate.add_argument("--database", help="overrides ANALYTICS_CLICKHOUSE_DATABASE")
    migrate.set_defaults(handler=_cmd_migrate)

    topics = commands.add_parser("topics", help="create the stream and dead-letter topics on Kafka")
    topics.add_argument("--bootstrap", help="overrides ANALYTICS_KAFKA_BOOTSTRAP")
    topics.add_argument("--partitions", type=int, default=6)
    topics.add_argument("--replication-factor", type=int, default=1)
    topics.set_defaults(handler=_cmd_topics)

    worker = commands.add_parser("worker", help="run stream-processor agent groups (Kafka → ClickHouse)")
    worker.add_argument("--agents", default="raw,rollups", help="agent groups: raw,rollups (any subset)")
    worker.set_defaults(handler=_cmd_worker)

    lag = commands.add_parser(
        "lag", help="messages the worker groups have not stored and committed yet, per consumer group"
    )
    lag.add_argument("--agents", default="raw,rollups", help="agent groups: raw,rollups (any subset)")
    lag.add_argument("--wait", action="store_true", help="repeat until every group has caught up")
    lag.add_argument("--timeout", type=float, default=600.0, help="with --wait: give up (exit 1) after S s")
    lag.add_argument("--interval", type=float, default=1.0, help="with --wait: seconds between checks")
    lag.set_defaults(handler=_cmd_lag)

    dlq = commands.add_parser("dlq", help="list or replay a stream's dead letters")
    dlq.add_argument("action", choices=["list", "replay"])
    dlq.add_argument("--stream", default="events", choices=["events", "performance", "usage", "activities"])
    dlq.add_argument("--limit", type=int, default=50)
    dlq.set_defaults(handler=_cmd_dlq)

    rebuild = commands.add_parser(
        "rebuild-rollups", help="recompute rollups of a date range from the raw tables"
    )
    rebuild.add_argument("--from", dest="start", help="first day (YYYY-MM-DD), tenant-local")
    rebuild.add_argument("--to", dest="end", help="last day (YYYY-MM-DD), tenant-local")
    rebuild.add_argument(
        "--pending", action="store_true", help="run the rebuilds scheduled by time-zone changes instead"
    )
    rebuild.add_argument("--tenant", help="only this tenant (default: every tenant with raw data)")
    rebuild.set_defaults(handler=_cmd_rebuild)

    token = commands.add_parser(
        "token",
        help="mint an HS256 token with ANALYTICS_AUTH_JWT_SECRET (or analytics dev's local secret)",
    )
    token.add_argument(
        "--sub",
        help="subject: the user id (required for end-user roles; default dev-admin for admin/service)",
    )
    token.add_argument("--tenant", help="tenant (default: ANALYTICS_DEFAULT_TENANT)")
    token.add_argument(
        "--role", default="admin", help="comma-separated roles: admin, service, user, student, teacher"
    )
    token.add_argument("--ttl", type=float, default=3600.0, help="seconds until it expires")
    token.set_defaults(handler=_cmd_token)

    from security.api_keys import add_cli as api_keys_cli

    api_keys_cli(commands)

    from jobs.retention import add_cli as retention_cli

    retention_cli(commands)

    from jobs.erasure import add_cli as privacy_cli

    privacy_cli(commands)

    from loadgen.options import add_arguments as loadgen_arguments

    loadgen = commands.add_parser(
        "loadgen", help="post realistic synthetic traffic of every stream to a gateway"
    )
    loadgen_arguments(loadgen)
    loadgen.set_defaults(handler=_cmd_loadgen)

    for name, handler, help_text in (
        ("dev", _cmd_dev, "the whole product in one process on the embedded store (no Kafka)"),
        ("gateway", _cmd_gateway, "serve the ingestion gateway (HTTP → Kafka)"),
        ("query", _cmd_query, "serve the query API (ClickHouse → HTTP)"),
    ):
        service = commands.add_parser(name, help=help_text)
        service.add_argument("--host", help="bind address (overrides the service's *_HOST setting)")
        service.add_argument("--port", type=int, help="port (overrides the service's *_PORT setting)")
        service.set_defaults(handler=handler)
        if name == "dev":
            service.add_argument(
                "--demo", action="store_true", help="fill an empty store with 6 weeks of demo traffic"
            )
        if name == "gateway":
            service.add_argument(
                "--workers", type=int, help="worker processes (overrides ANALYTICS_GATEWAY_WORKERS)"
            )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=CommonSettings().log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    handler: Handler = args.handler
    try:
        return handler(args)
    except (
        StoreUnavailableError,
        StoreHeldError,
    ) as exc:  # the store cannot be opened: one line, no traceback
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
