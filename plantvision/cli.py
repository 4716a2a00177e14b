"""`plantvision <command>`: the command line. Expected errors print one line, never a traceback."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import cast

from plantvision import __version__
from plantvision.errors import PlantvisionError

# Each name is a module in plantvision/commands with a `register(subparsers)` function.
COMMANDS: tuple[str, ...] = (
    "run",
    "check",
    "detect",
    "bench",
    "loop-bench",
    "zones",
    "distance",
    "simulate",
    "schema",
    "quantize",
    "fleet",
    "capture-latency",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plantvision",
        description="Edge-box safety and defect-rejection controller.",
    )
    parser.add_argument("--version", action="version", version=f"plantvision {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"plantvision.commands.{name.replace('-', '_')}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = cast(Callable[[argparse.Namespace], int], args.handler)
    try:
        return handler(args)
    except PlantvisionError as exc:
        print(f"plantvision {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
