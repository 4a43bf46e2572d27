"""``defectlab`` command line: one module per command.

Each module in ``COMMANDS`` exposes ``register(subparsers)``, which adds its
command and sets ``func`` on it; this file only assembles them and decides
what an error looks like. Nothing in the library imports this package.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..backbones import onnx_forward
from ..errors import DefectlabError

COMMANDS = (
    "defectlab.cli.fit",  # fit: fit once and save
    "defectlab.cli.detect",  # detect: score a folder
    "defectlab.cli.export",  # export: a saved model to ONNX
    "defectlab.cli.evaluate",  # evaluate: few-shot benchmark on a dataset
    "defectlab.cli.demo",  # demo: the offline main job
    "defectlab.cli.click_train",  # click-train: train the ADClick head
    "defectlab.cli.click_eval",  # click-eval: simulated-click evaluation
    "defectlab.cli.seg_train",  # seg-train: ADClick-Seg on a labelled folder
    "defectlab.cli.label",  # label: the labelling web app
)

# Errors about the user's own paths read as one line too, and so does any
# OSError that names a file or folder (name too long, read-only file system,
# disk full while writing an output): the path is the culprit. Any other
# exception is a bug and keeps its traceback.
USER_PATH_ERRORS = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError, FileExistsError)


def is_user_error(err: BaseException) -> bool:
    return isinstance(err, (DefectlabError, *USER_PATH_ERRORS)) or (isinstance(err, OSError) and err.filename is not None)


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="defectlab",
        description="Few-shot industrial visual inspection: detect defects from a few normal images, "
        "label them with clicks, measure with the field's metrics.",
    )
    parser.add_argument("--version", action="version", version=f"defectlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        # argparse prints a refused flag with the usage line and exits 2; main returns the code instead.
        args = build_parser().parse_args(argv)
    except SystemExit as stop:
        return int(stop.code or 0)
    try:
        onnx_forward.runtime()  # a mistyped DEFECTLAB_RUNTIME is refused before any work or output folder
        return int(args.func(args) or 0)
    except Exception as err:
        if not is_user_error(err):
            raise
        print(f"defectlab {args.command}: error: {err}", file=sys.stderr)
        return 2
