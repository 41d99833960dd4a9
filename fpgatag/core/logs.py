"""Logging set-up: diagnostics go to stderr through ``logging``; stdout is kept for results."""

from __future__ import annotations

import logging
import os
import sys
import warnings

LOGGER = "fpgatag"
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
# Python warnings every run would print that say nothing about the user's model
KNOWN_NOISE = (
    # Keras serializing QKeras quantizers (kernel_quantizer=...) as if they were constraints: they round-trip
    (r"The `keras\.constraints\.serialize\(\)` API should only be used", UserWarning),
)
# third-party loggers that speak at INFO on every run (TensorFlow, NumExpr's thread count, ...):
# held at WARNING so that their warnings still show
QUIET = ("tensorflow", "absl", "h5py", "matplotlib", "numexpr", "numba", "hls4ml", "qkeras", "PIL", "fontTools")


def _ours(record: logging.LogRecord) -> bool:
    return record.name == LOGGER or record.name.startswith(LOGGER + ".")


def _handler(level: int, only_others: bool = False) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT, datefmt="%H:%M:%S"))
    handler.setLevel(level)
    if only_others:
        handler.addFilter(lambda record: not _ours(record))
    handler._fpgatag = True  # type: ignore[attr-defined]
    return handler


def setup_logging(verbosity: int = 0) -> None:
    """Send fpgatag's own log records (``fpgatag.*``) to stderr: INFO, or DEBUG with ``-v``.

    Other libraries' records reach stderr only from WARNING up (named by their logger), so their
    real warnings show while their INFO chatter does not: TensorFlow's, NumExpr's thread count, and
    the lines QKeras and hls4ml log on the root logger (``root: keras dict linear``). ``-vv`` shows
    every library's INFO records too. The root logger's level is left as it is; calling this again
    replaces fpgatag's handlers instead of adding more.
    """
    logger, root = logging.getLogger(LOGGER), logging.getLogger()
    for log in (logger, root):
        for h in [h for h in log.handlers if getattr(h, "_fpgatag", False)]:
            log.removeHandler(h)
    logger.addHandler(_handler(logging.NOTSET))
    logger.setLevel(logging.DEBUG if verbosity >= 1 else logging.INFO)
    # one handler on the root logger for the other libraries; it also keeps a library's bare
    # logging.info() from calling basicConfig(), which would print fpgatag's records a second time
    root.addHandler(_handler(logging.INFO if verbosity >= 2 else logging.WARNING, only_others=True))
    if verbosity >= 2:
        root.setLevel(logging.INFO)
        for name in QUIET:
            logging.getLogger(name).setLevel(logging.NOTSET)
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    for message, category in KNOWN_NOISE:
        warnings.filterwarnings("ignore", message=message, category=category)


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
