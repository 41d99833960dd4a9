"""User-facing errors.

Anything the user can fix (a bad file, an unknown preset, a wrong option) raises
:class:`FpgatagError` with one line that names the file, field or layer at fault. The CLI prints
that line, exits non-zero and shows no traceback. Bugs stay ordinary exceptions.
"""


class FpgatagError(Exception):
    """An error caused by the user's input, reported as one line without a traceback."""

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))  # always one line


class ArgumentError(FpgatagError):
    """A bad value of a library function's argument ``argument``; the message is ``argument`` then ``detail``.

    A library function names its own argument (``seed``, ``shard``, ``scheduler``); a front end that
    exposes the argument under another name (the command line's ``--seed``) renames it with
    :meth:`renamed`, so each caller's one-line message names what its user typed."""

    def __init__(self, argument: str, detail: str):
        self.argument, self.detail = argument, detail
        super().__init__(f"{argument}{detail}")

    def renamed(self, name: str) -> FpgatagError:
        """The same error naming ``name`` (for example a command-line flag) instead of the argument."""
        return FpgatagError(f"{name}{self.detail}")


class ToolNotFoundError(FpgatagError):
    """A required external tool (g++, vitis_hls, ...) is not installed."""

    exit_code = 3
