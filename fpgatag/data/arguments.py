"""Errors of the data layer's functions that name the argument at fault.

A library function names its own argument (``seed``, ``shard``, ``jets_per_class``); a front end
that exposes the argument under another name (the command line's ``--seed``) renames it with
:meth:`ArgumentError.renamed`, so each caller's one-line message names what its user typed.
"""

from __future__ import annotations

from fpgatag.core.errors import FpgatagError


class ArgumentError(FpgatagError):
    """A bad value of argument ``argument``; the message is ``argument`` followed by ``detail``."""

    def __init__(self, argument: str, detail: str):
        self.argument, self.detail = argument, detail
        super().__init__(f"{argument}{detail}")

    def renamed(self, name: str) -> FpgatagError:
        """The same error naming ``name`` (for example a command-line flag) instead of the argument."""
        return FpgatagError(f"{name}{self.detail}")
