"""``fpgatag`` entry point.

Each command module exposes ``register(subparsers, formatter_class)``, which adds each of its
sub-commands with :func:`fpgatag.cli.common.add_command` (name, handler ``cmd_<name>``, help). A
handler takes the parsed ``argparse.Namespace`` and returns an exit code (``None`` means 0). Every
command follows one convention: ``-o/--output`` names what it writes (``--out`` is read too),
``--json`` prints its result as one JSON object, and each default is shown once in ``--help``.
Modules import heavy libraries (TensorFlow, hls4ml) inside their handlers, so ``fpgatag --help``
stays fast. Registration is explicit: a command module that fails
to import is an error, never a silently missing command.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from fpgatag import __version__
from fpgatag.cli.common import HelpFormatter
from fpgatag.core import io
from fpgatag.core.errors import ArgumentError, FpgatagError
from fpgatag.core.io import forcing, interrupt_on_sigterm
from fpgatag.core.logs import setup_logging

# Pipeline order: data, nn/train (teacher, students), fpga, report.
COMMAND_MODULES = (
    "fpgatag.cli.data_cmds",
    "fpgatag.cli.teacher_cmds",
    "fpgatag.cli.student_cmds",
    "fpgatag.cli.ae_cmds",
    "fpgatag.cli.fpga_cmds",
    "fpgatag.cli.report_cmds",
    "fpgatag.cli.bench_cmds",
)

log = logging.getLogger("fpgatag")


_Formatter = HelpFormatter


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``fpgatag CMD: error: ...``), like every other fpgatag error."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    for command in sub.choices.values():
        command.add_argument("--force", action="store_true",
                             help="replace an existing output even when it is not a previous fpgatag output of "
                                  "the same kind (an input is never replaced)")
    return parser


def _hard_exit(code: int) -> None:
    """Exit now: after a write into an HDF5 file failed (a full disk), freeing the file's objects or
    the HDF5 library's exit handler retries the flush and crashes the process."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _os_error(exc: OSError) -> str:
    """One line naming the path of an OS error (read-only file system, full disk, ...)."""
    what = exc.strerror or str(exc) or exc.__class__.__name__
    if exc.filename is not None:
        return f"{exc.filename}: {what}"
    return what


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    interrupt_on_sigterm()
    try:
        with forcing(getattr(args, "force", False)):
            code = args.func(args)
    except FpgatagError as exc:
        if isinstance(exc, ArgumentError):   # a library argument, on the command line its flag (scheduler -> --scheduler)
            exc = exc.renamed("--" + exc.argument.replace("_", "-"))
        print(f"fpgatag {args.command}: error: {exc}", file=sys.stderr)
        if io.WRITE_FAILED:   # a failed HDF5 write: end before its objects are freed (that crashes)
            _hard_exit(exc.exit_code)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"fpgatag {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:   # a file system refusing the write: one line naming the path, no traceback
        print(f"fpgatag {args.command}: error: {' '.join(_os_error(exc).split())}", file=sys.stderr)
        return 1
    except MemoryError:
        print(f"fpgatag {args.command}: error: out of memory (ask for less: fewer jets, a smaller batch)",
              file=sys.stderr)
        return 1
    except Exception as exc:
        wrapped = _wrapped_error(exc)
        if wrapped is None:
            raise
        print(f"fpgatag {args.command}: error: {wrapped}", file=sys.stderr)
        return FpgatagError.exit_code
    return int(code or 0)


def _wrapped_error(exc: Exception) -> str | None:
    """The one line of an FpgatagError raised inside a TensorFlow input pipeline (``tf.data`` runs
    Python generators in its own frames and re-raises their errors as its own), else None."""
    if not type(exc).__module__.startswith("tensorflow"):
        return None
    for line in str(exc).splitlines():
        line = line.strip()
        for prefix in ("fpgatag.core.errors.FpgatagError: ", "FpgatagError: "):
            if line.startswith(prefix):
                return line[len(prefix):]
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
