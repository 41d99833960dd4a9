"""Shared pieces of the command modules: checked argparse types and the output guard.

Every float option goes through one of the types below, so ``nan``, ``inf`` and out-of-range values
are refused by argparse (one line, exit 2) before any work starts.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Callable, Iterable


def _number(text: str, cast: Callable, what: str):
    try:
        value = cast(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def finite_float(text: str) -> float:
    """A finite float (no nan, no inf)."""
    return _number(text, float, "a number")


def positive_float(text: str) -> float:
    """A finite float > 0."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not > 0")
    return value


def nonnegative_float(text: str) -> float:
    """A finite float >= 0."""
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not >= 0")
    return value


def fraction(text: str) -> float:
    """A finite float in [0, 1]."""
    value = finite_float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not in [0, 1]")
    return value


def positive_int(text: str) -> int:
    """An int >= 1."""
    value = _number(text, int, "an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not >= 1")
    return value


def nonnegative_int(text: str) -> int:
    """An int >= 0."""
    value = _number(text, int, "an integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not >= 0")
    return value


def guard(path: str | os.PathLike, kind: str, inputs: Iterable[str | os.PathLike | None] = (),
          directory: bool = False) -> Path:
    """Check an output before the work (see :func:`fpgatag.core.io.check_output`); ``--force`` is
    applied by ``cli.main`` around the whole command."""
    from fpgatag.core.io import check_output

    return check_output(path, kind, inputs=inputs, directory=directory)


def data_inputs(*paths: str | os.PathLike | None) -> list[Path]:
    """The files behind jet-file inputs: each file and, for a merged (virtual) file, its shards."""
    from fpgatag.data.io import referenced_files

    return [f for p in paths if p is not None for f in referenced_files(p)]


# --------------------------------------------------------------------------- one convention for every command
def add_command(subparsers, name: str, handler: Callable, formatter_class, *, help: str, description: str):
    """Add sub-command ``name`` run by ``handler(args) -> exit code``: the one way commands are registered."""
    p = subparsers.add_parser(name, formatter_class=formatter_class, help=help, description=description)
    p.set_defaults(func=handler)
    return p


def add_output(p: argparse.ArgumentParser, help: str, required: bool = False, default=None,
               metavar: str | None = None, type: Callable | None = Path) -> None:
    """``-o/--output``, every command's output option (``--out`` is read too, as a hidden alias)."""
    p.add_argument("-o", "--output", "--out", dest="output", required=required, default=default, metavar=metavar,
                   type=type, help=help)


def add_json(p: argparse.ArgumentParser, what: str = "the result") -> None:
    """``--json``: print ``what`` as one JSON object instead of the table."""
    p.add_argument("--json", action="store_true", help=f"print {what} as JSON instead of the table")


def add_training_options(p: argparse.ArgumentParser, patience_type: Callable = positive_int) -> None:
    """--learning-rate and --patience, the one name of each (--lr and --early-stopping read too)."""
    p.add_argument("--learning-rate", "--lr", dest="learning_rate", type=positive_float, default=None, metavar="LR",
                   help="(base) learning rate (default: the preset's)")
    p.add_argument("--patience", "--early-stopping", dest="patience", type=patience_type, default=None, metavar="N",
                   help="stop after N epochs without a lower validation loss (default: the preset's)")


def print_json(obj) -> None:
    """One JSON document on stdout (what ``--json`` prints)."""
    import json
    import sys

    from fpgatag.core.io import _json_default

    def default(value):
        try:
            return _json_default(value)
        except TypeError:
            return str(value)

    sys.stdout.write(json.dumps(obj, indent=2, default=default) + "\n")


# Earlier spellings still read but not shown in --help (one name per option).
HIDDEN_ALIASES = frozenset({"--out", "--lr", "--early-stopping"})


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Each option's default shown once: appended as ``(default: X)`` unless the help already says
    what the default is, and never for ``None``/``False`` (an option left out). The hidden aliases
    (``HIDDEN_ALIASES``) are not listed."""

    def _format_action_invocation(self, action: argparse.Action) -> str:
        shown = [o for o in action.option_strings if o not in HIDDEN_ALIASES]
        if shown == list(action.option_strings):
            return super()._format_action_invocation(action)
        import copy

        visible = copy.copy(action)
        visible.option_strings = shown
        return super()._format_action_invocation(visible)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        left_out = action.default is None or action.default is False or action.default is argparse.SUPPRESS
        if "default" in text.lower() or left_out or action.required:
            return text
        if action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return text + " (default: %(default)s)"
        return text
