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


class ToolNotFoundError(FpgatagError):
    """A required external tool (g++, vitis_hls, ...) is not installed."""

    exit_code = 3
