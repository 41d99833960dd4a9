"""fpgatag's logger: its own records on stderr once, other libraries' INFO chatter not, their warnings yes."""

import logging

import pytest

from fpgatag.core.logs import setup_logging


@pytest.fixture
def logging_state():
    root, ours = logging.getLogger(), logging.getLogger("fpgatag")
    saved = (root.level, list(root.handlers), ours.level, list(ours.handlers), ours.propagate)
    yield
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]
    ours.setLevel(saved[2])
    ours.handlers[:] = saved[3]
    ours.propagate = saved[4]


def test_only_fpgatag_speaks_at_info(capsys, logging_state):
    setup_logging(0)
    setup_logging(0)   # a second call does not double the output
    logging.getLogger("fpgatag.report").info("ours at info")
    logging.getLogger("fpgatag.report").debug("ours at debug")
    logging.info("keras dict linear")          # QKeras's bare call on the root logger
    logging.getLogger("numexpr.utils").info("NumExpr defaulting to 2 threads.")
    logging.getLogger("tensorflow").warning("a real tensorflow warning")
    err = capsys.readouterr().err
    assert err.count("ours at info") == 1 and "fpgatag.report: ours at info" in err
    assert "ours at debug" not in err and "keras dict" not in err and "NumExpr" not in err
    assert err.count("a real tensorflow warning") == 1 and "tensorflow: a real tensorflow warning" in err


def test_verbose_levels(capsys, logging_state):
    setup_logging(1)
    logging.getLogger("fpgatag.x").debug("ours at debug")
    logging.getLogger("numexpr.utils").info("numexpr info")
    err = capsys.readouterr().err
    assert err.count("ours at debug") == 1 and "numexpr info" not in err
    setup_logging(2)
    logging.getLogger("fpgatag.x").info("ours again")
    logging.getLogger("numexpr.utils").info("numexpr info")
    err = capsys.readouterr().err
    assert err.count("ours again") == 1 and err.count("numexpr info") == 1
