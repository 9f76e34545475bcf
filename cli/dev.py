"""``analytics dev``: the whole product in one process on the embedded store (no Kafka), composed by
:mod:`cli.dev_app`; prints where everything is (and an admin token when auth is local) before serving."""

from __future__ import annotations

import argparse

from cli.service_options import add_service_parser


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``dev [--host H] [--port P] [--demo]``; sets ``handler``."""
    parser = add_service_parser(
        subparsers, "dev", "the whole product in one process on the embedded store (no Kafka)"
    )
    parser.add_argument(
        "--demo", action="store_true", help="fill an empty store with 6 weeks of demo traffic"
    )
    parser.set_defaults(handler=_cmd_dev)


def _cmd_dev(args: argparse.Namespace) -> int:
    from cli.dev_app import create_dev_app
    from ingest_gateway.settings import GatewaySettings
    from plumbing.gc_tuning import tune_for_service
    from plumbing.settings import load_settings

    settings = load_settings(GatewaySettings)
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
    from plumbing.shutdown import ShutdownSettings, ShutdownWatchdog

    abandons = "requests still waiting for the store (not answered, so not acknowledged: clients retry)"
    watchdog = ShutdownWatchdog.from_settings(load_settings(ShutdownSettings), "analytics dev", abandons)
    return serve_http(app, watchdog, host=host, port=port, log_level=settings.log_level.lower())
