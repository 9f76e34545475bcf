"""``analytics migrate``: apply the pending ClickHouse migrations, creating the database if needed."""

from __future__ import annotations

import argparse

from plumbing.settings import CommonSettings, load_settings


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``migrate [--clickhouse-url URL] [--database NAME]``; sets ``handler``."""
    parser = subparsers.add_parser("migrate", help="apply pending ClickHouse migrations")
    parser.add_argument("--clickhouse-url", help="overrides ANALYTICS_CLICKHOUSE_URL")
    parser.add_argument("--database", help="overrides ANALYTICS_CLICKHOUSE_DATABASE")
    parser.set_defaults(handler=_cmd_migrate)


def _cmd_migrate(args: argparse.Namespace) -> int:
    from plumbing.clickhouse import open_for_command
    from plumbing.migrate import migrate

    settings = load_settings(CommonSettings)
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
