"""``fpgatag`` entry point.

Each command module exposes ``register(subparsers)``, which adds its sub-commands with
``set_defaults(func=handler)``. A handler takes the parsed ``argparse.Namespace`` and returns an
exit code (``None`` means 0). Modules import heavy libraries (TensorFlow, hls4ml) inside their
handlers, so ``fpgatag --help`` stays fast. Registration is explicit: a command module that fails
to import is an error, never a silently missing command.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from fpgatag import __version__
from fpgatag.core.errors import FpgatagError
from fpgatag.core.io import interrupt_on_sigterm
from fpgatag.core.logs import setup_logging

# Pipeline order: data, nn/train (teacher, students), fpga, report.
COMMAND_MODULES = (
    "fpgatag.cli.data_cmds",
    "fpgatag.cli.teacher_cmds",
    "fpgatag.cli.student_cmds",
    "fpgatag.cli.ae_cmds",
    "fpgatag.cli.fpga_cmds",
    "fpgatag.cli.report_cmds",
)

log = logging.getLogger("fpgatag")


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fpgatag",
        description="Jet tagging for Level-1 triggers: jets -> teacher -> distilled quantized student -> FPGA firmware.",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"fpgatag {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output on stderr (-vv: also TensorFlow's)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, _Formatter)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    interrupt_on_sigterm()
    try:
        code = args.func(args)
    except FpgatagError as exc:
        print(f"fpgatag {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"fpgatag {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
