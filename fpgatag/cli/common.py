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
