"""``analytics lag``: how many messages each worker group has not stored and committed yet (exit 0), or
exit 1 when the broker cannot tell yet. With ``--wait`` it asks again until every group has caught up
(exit 0) or ``--timeout`` passes (exit 1)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from cli.worker import add_agents_option


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``lag [--agents GROUPS] [--wait [--timeout S] [--interval S]]``; sets ``handler``."""
    parser = subparsers.add_parser(
        "lag", help="messages the worker groups have not stored and committed yet, per consumer group"
    )
    add_agents_option(parser)
    parser.add_argument("--wait", action="store_true", help="repeat until every group has caught up")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="with --wait: give up (exit 1) after S s"
    )
    parser.add_argument("--interval", type=float, default=1.0, help="with --wait: seconds between checks")
    parser.set_defaults(handler=_cmd_lag)


def _cmd_lag(args: argparse.Namespace) -> int:
    from aiokafka.errors import KafkaError

    from plumbing.kafka_lag import consumer_lag
    from plumbing.settings import load_settings
    from schemas.topics import registry
    from stream_processors.__main__ import parse_groups
    from stream_processors.settings import WorkerSettings

    settings = load_settings(WorkerSettings)
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
