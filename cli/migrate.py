"""``analytics migrate``: apply the pending migrations of both stores: ClickHouse's (creating the database if
needed), then the configuration store's (ADR 0017)."""

from __future__ import annotations

import argparse

from plumbing.settings import CommonSettings, load_settings


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``migrate [--clickhouse-url URL] [--database NAME] [--database-url URL]``; sets
    ``handler``."""
    parser = subparsers.add_parser(
        "migrate", help="apply pending migrations of ClickHouse and of the configuration store"
    )
    parser.add_argument("--clickhouse-url", help="overrides ANALYTICS_CLICKHOUSE_URL")
    parser.add_argument("--database", help="overrides ANALYTICS_CLICKHOUSE_DATABASE")
    parser.add_argument("--database-url", help="overrides ANALYTICS_DATABASE_URL (the configuration store)")
    parser.set_defaults(handler=_cmd_migrate)


def _cmd_migrate(args: argparse.Namespace) -> int:
    from plumbing.clickhouse import open_for_command
    from plumbing.config_db import upgrade
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
    revisions = upgrade(args.database_url or settings.database_url)
    for revision in revisions:
        print(f"applied configuration revision {revision}")
    print(f"configuration store is up to date ({len(revisions)} applied now)")
    return 0
