"""``python -m ingest_gateway.loadgen``: the same as ``analytics loadgen``."""

from __future__ import annotations

import sys

from schemas.cli import main

if __name__ == "__main__":
    sys.exit(main(["loadgen", *sys.argv[1:]]))
