"""``analytics migrate``: apply the pending migrations of both stores: ClickHouse's (creating the database if
needed), then the configuration store's (ADR 0017). With a cluster (``ANALYTICS_CLICKHOUSE_CLUSTER`` or
``--cluster``) the ClickHouse statements are rendered for it (ADR 0019); ``--print-ddl`` prints them
instead, without opening any store, for review."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from plumbing.settings import CommonSettings, load_settings

if TYPE_CHECKING:
    from plumbing.migrate import Rendered


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``migrate [--clickhouse-url URL] [--database NAME] [--cluster NAME] [--print-ddl]
    [--database-url URL]``; sets ``handler``."""
    parser = subparsers.add_parser(
        "migrate", help="apply pending migrations of ClickHouse and of the configuration store"
    )
    parser.add_argument("--clickhouse-url", help="overrides ANALYTICS_CLICKHOUSE_URL")
    parser.add_argument("--database", help="overrides ANALYTICS_CLICKHOUSE_DATABASE")
    parser.add_argument(
        "--cluster",
        help="overrides ANALYTICS_CLICKHOUSE_CLUSTER: render the statements for this cluster of the servers",
    )
    parser.add_argument(
        "--print-ddl",
        action="store_true",
        help="print every ClickHouse statement migrate would run on an empty store (rendered for the "
        "cluster, if one is set) and exit; opens no store",
    )
    parser.add_argument("--database-url", help="overrides ANALYTICS_DATABASE_URL (the configuration store)")
    parser.set_defaults(handler=_cmd_migrate)


def _cmd_migrate(args: argparse.Namespace) -> int:
    from plumbing.clickhouse import open_for_command
    from plumbing.cluster_ddl import ClusterLayout, ClusterRenderError
    from plumbing.migrate import migrate, render_migrations

    settings = load_settings(CommonSettings)
    url = args.clickhouse_url or settings.clickhouse_url
    database = args.database or settings.clickhouse_database
    cluster = args.cluster or settings.clickhouse_cluster or None
    try:
        layout = None if cluster is None else ClusterLayout(cluster, database)
        if args.print_ddl:
            print_ddl(render_migrations(layout))
            return 0
    except ClusterRenderError as exc:
        print(f"migrate: {exc}", file=sys.stderr)
        return 1
    if cluster is not None and url.startswith("chdb://"):
        print(
            f"migrate: the cluster {cluster!r} needs ClickHouse servers, not the embedded {url}",
            file=sys.stderr,
        )
        return 1
    client = open_for_command(url, database, create_database=True)
    try:
        applied = migrate(client, cluster)
    finally:
        client.close()
    for migration in applied:
        print(f"applied {migration.version:04d}_{migration.name}")
    where = f" on cluster {cluster}" if cluster else ""
    print(f"database {database}{where} is up to date ({len(applied)} applied now)")
    from plumbing.config_db import upgrade

    revisions = upgrade(args.database_url or settings.database_url)
    for revision in revisions:
        print(f"applied configuration revision {revision}")
    print(f"configuration store is up to date ({len(revisions)} applied now)")
    return 0


def print_ddl(rendered: Rendered) -> None:
    """Print ``rendered`` as one script: each migration under a ``--`` heading, each statement ended by ``;``
    (``clickhouse-client --multiquery`` reads it)."""
    target = f"cluster {rendered.layout.cluster}" if rendered.layout else "one server"
    print(f"-- analytics migrate, rendered for {target}; checksums recorded are those of the files")
    print("-- setup: database and schema_migrations\n")
    for statement in rendered.setup:
        print(f"{statement.strip()};\n")
    for migration, statements in rendered.migrations:
        print(f"-- {migration.version:04d}_{migration.name} (sha256 {migration.checksum[:12]})\n")
        for statement in statements:
            print(f"{statement.strip()};\n")
