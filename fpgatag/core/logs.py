"""Logging set-up: diagnostics go to stderr through ``logging``; stdout is kept for results."""

from __future__ import annotations

import logging
import os
import sys


def setup_logging(verbosity: int = 0) -> None:
    level = logging.DEBUG if verbosity >= 1 else logging.INFO
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        force=True,
    )
    # TensorFlow is chatty at import; keep it quiet unless -vv
    if verbosity < 2:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        for name in ("tensorflow", "absl", "h5py", "matplotlib", "numba"):
            logging.getLogger(name).setLevel(logging.WARNING)


def progress_enabled() -> bool:
    """tqdm bars on a terminal; off in CI logs unless FPGATAG_PROGRESS=1."""
    env = os.environ.get("FPGATAG_PROGRESS")
    if env is not None:
        return env not in ("0", "", "false")
    return sys.stderr.isatty()


def progress(iterable=None, **kwargs):
    """A tqdm progress bar on stderr, shown on terminals (see :func:`progress_enabled`)."""
    from tqdm.auto import tqdm

    kwargs.setdefault("disable", not progress_enabled())
    kwargs.setdefault("file", sys.stderr)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)
