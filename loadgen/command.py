"""``analytics loadgen``: options from the command line, the run, its summary and exit status.

Exit status: 0 when every item was accepted, 1 when any request failed or any item was refused,
2 when nothing could be sent: no credential (every gateway route needs one, so each request would answer
401), or no gateway answers at the URL at all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from typing import Any

from loadgen.options import API_KEY_ENV, TOKEN_ENV, options_from
from loadgen.runner import GatewayUnreachable, run


def describe(summary: dict[str, Any]) -> str:
    latency = summary["latency_ms"]
    per_stream = ", ".join(
        f"{name} {counts['accepted']:,}" for name, counts in summary["streams"].items() if counts["sent"]
    )
    resent = f" (of them {summary['resent']:,} deliberate re-sends)" if summary["resent"] else ""
    return (
        f"sent {summary['sent']:,} events in {summary['requests']:,} requests "
        f"over {summary['duration_s']} s: "
        f"accepted {summary['accepted']:,}{resent} ({per_stream}), rejected {summary['rejected']:,}, "
        f"failed {summary['failed']:,} in {summary['errors']:,} failed requests\n"
        f"{summary['events_per_s']:,} events/s accepted; latency p50 {latency['p50']} ms, "
        f"p99 {latency['p99']} ms"
    )


def main(args: argparse.Namespace) -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request drowns the bar
    options = options_from(args)
    if not (options.token or options.api_key):
        print(
            f"loadgen: no credential, so every request would answer 401: set {TOKEN_ENV} "
            f"(export {TOKEN_ENV}=$(analytics token --role service)) or {API_KEY_ENV} (an ingestion key)",
            file=sys.stderr,
        )
        return 2
    try:
        summary = asyncio.run(run(options))
    except GatewayUnreachable as exc:
        print(f"loadgen: {exc}", file=sys.stderr)
        return 2
    summary["seed"] = options.seed
    for sample in summary["error_samples"]:
        print(f"loadgen: {sample}", file=sys.stderr)
    print(json.dumps(summary) if args.json else describe(summary), flush=True)
    return 0 if summary["ok"] else 1
