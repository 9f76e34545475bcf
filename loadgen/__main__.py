"""``python -m loadgen``: the same as ``analytics loadgen``."""

from __future__ import annotations

import argparse
import sys

from loadgen.command import main
from loadgen.options import add_arguments

if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="python -m loadgen", description="post realistic synthetic traffic of every stream to a gateway"
    )
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))
