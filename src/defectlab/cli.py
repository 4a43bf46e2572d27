"""``defectlab`` command line: one sub-command module per feature.

Each module in ``COMMANDS`` exposes ``register(subparsers)``, which adds its
sub-commands and sets ``func`` on them; this file only assembles them.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = (
    "defectlab.detect.cli",  # detect, evaluate
    "defectlab.demo",  # demo: the offline main job
    "defectlab.click.cli",  # click-train, click-eval: ADClick
    "defectlab.app.cli",  # label: the labelling web app
)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="defectlab", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"defectlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, OSError, RuntimeError) as err:
        # User errors (bad paths, bad values, missing weights) read as one
        # message, not a traceback; the message names the file or value.
        print(f"defectlab {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
