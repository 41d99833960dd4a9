"""Safe output: checked before the work, written atomically, never destroying other data.

* :func:`atomic_path` / :func:`atomic_dir` write to a temporary name next to the target, then
  rename, so an interrupted command never leaves a half-written file or directory behind.
* :func:`check_output` is called by every command for every output before any expensive work:
  an output never replaces or contains one of the command's inputs, and an existing output is
  replaced only when it is a previous fpgatag output of the same kind. fpgatag writes a marker
  file (``.fpgatag-output.json`` with the kind) into every output directory it makes; outputs of
  older versions are recognised by their content (``run.json``, ``estimate.json``, ...). Anything
  else is refused with one line naming it, unless ``--force`` (:func:`forcing`) is given.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np


OUTPUT_MARKER = ".fpgatag-output.json"

# Output kinds, recognised in directories written before markers existed by the file that names them.
_LEGACY_DIR_FILES = (("run", "run.json"), ("hls", "estimate.json"), ("report", "report.json"),
                     ("demo", "demo.json"), ("sweep", "sweep.json"))
_FORCE = contextvars.ContextVar("fpgatag_force_output", default=False)
# Set by SIGTERM (see interrupt_on_sigterm). Its KeyboardInterrupt can be swallowed by a callback
# (a weakref's, a C library's); atomic writers check this flag too, so no output is completed after it.
TERMINATED = threading.Event()


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created, with its folder, if missing): one process at a
    time runs the block (a shared cache filled once, a tool that must not run twice at once). POSIX only."""
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _check_terminated() -> None:
    if TERMINATED.is_set():
        raise KeyboardInterrupt("terminated")


@contextlib.contextmanager
def forcing(force: bool = True) -> Iterator[None]:
    """Within this context outputs that are not previous fpgatag outputs may be replaced (``--force``)."""
    token = _FORCE.set(bool(force))
    try:
        yield
    finally:
        _FORCE.reset(token)


def dir_kind(path: str | os.PathLike) -> str | None:
    """The kind of fpgatag output directory ``path`` is (its marker, else its content), or None."""
    path = Path(path)
    marker = path / OUTPUT_MARKER
    if marker.is_file():
        try:
            kind = json.loads(marker.read_text()).get("kind")
            return str(kind) if kind else None
        except (OSError, ValueError, AttributeError):
            return None
    for kind, name in _LEGACY_DIR_FILES:
        if (path / name).is_file():
            return kind
    if any(path.glob("sweep-shard*of*.json")):
        return "sweep"
    return None


def file_kind(path: str | os.PathLike) -> str | None:
    """The kind of fpgatag output file ``path`` is ("jets", "logits", "png", "validate"), or None."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return None
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        try:
            import h5py

            with h5py.File(path, "r") as f:
                fmt = f.attrs.get("format")
        except (OSError, ValueError):
            return None
        fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
        return {"fpgatag": "jets", "fpgatag-logits": "logits"}.get(str(fmt))
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png" if b"Matplotlib" in head else None
    if head.lstrip().startswith(b"{"):
        try:
            obj = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if isinstance(obj, dict) and "bit_exact_fraction" in obj:
            return "validate"
    return None


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def _writable_parent(path: Path) -> None:
    from .errors import FpgatagError

    for anc in path.parents:
        if anc.exists():
            if not anc.is_dir():
                raise FpgatagError(f"{path}: {anc} is a file, not a directory")
            if not os.access(anc, os.W_OK | os.X_OK):
                raise FpgatagError(f"{path}: directory {anc} is not writable")
            return


def check_output(path: str | os.PathLike, kind: str, inputs: Iterable[str | os.PathLike | None] = (),
                 directory: bool = False, force: bool | None = None) -> Path:
    """Refuse, before any work, an output that would destroy data; return ``path``.

    ``path`` is a file (``directory=False``) or a directory output of ``kind``. Refused with one line
    naming the path: an output equal to or containing one of ``inputs``; a parent that is a regular
    file or not writable; a file output that is a directory (or the reverse); an existing output
    that is not a previous fpgatag output of the same kind, unless ``force`` (default: :func:`forcing`).
    """
    from .errors import FpgatagError

    path = Path(path)
    force = _FORCE.get() if force is None else force
    real = path.resolve()
    for inp in inputs:
        if inp is None:
            continue
        rin = Path(inp).resolve()
        if _inside(rin, real):
            what = "is" if rin == real else "contains"
            raise FpgatagError(f"{path}: output {what} the input {inp}; choose another output path")
    _writable_parent(real)
    if not path.exists() and not path.is_symlink():
        return path
    if directory:
        if not path.is_dir():
            raise FpgatagError(f"{path}: exists and is not a directory (the output is a directory)")
        if not any(path.iterdir()):
            return path
        found = dir_kind(path)
        if found == kind or force:
            if not os.access(path, os.W_OK | os.X_OK):
                raise FpgatagError(f"{path}: directory is not writable")
            return path
        what = f"a {found} output" if found else "not an fpgatag output"
        raise FpgatagError(f"{path}: exists and is {what}, not a {kind} output; refusing to replace it "
                           "(choose another path, or --force)")
    if path.is_dir():
        raise FpgatagError(f"{path}: is a directory (the output is a file)")
    found = file_kind(path)
    if found != kind and not force:
        what = f"a {found} file" if found else "not an fpgatag output"
        raise FpgatagError(f"{path}: exists and is {what}, not a {kind} file; refusing to replace it "
                           "(choose another path, or --force)")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise FpgatagError(f"{path}: directory {path.parent} is not writable")
    return path


def _make_parent(path: Path) -> None:
    from .errors import FpgatagError

    _writable_parent(path.resolve())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FpgatagError(f"{path}: cannot create directory {path.parent} ({exc.strerror or exc})") from None


def write_marker(directory: str | os.PathLike, kind: str) -> Path:
    """Mark ``directory`` as an fpgatag output of ``kind`` (read back by :func:`dir_kind`)."""
    from fpgatag import __version__

    marker = Path(directory) / OUTPUT_MARKER
    marker.write_text(json.dumps({"kind": kind, "fpgatag": __version__}) + "\n")
    return marker


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path in the target's directory; rename it onto ``path`` on success.

    On any exception (KeyboardInterrupt included) the temporary file is removed. A directory at
    ``path`` is never replaced.
    """
    from .errors import FpgatagError

    path = Path(path)
    if path.is_dir():
        raise FpgatagError(f"{path}: is a directory (the output is a file)")
    _make_parent(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=(suffix or path.suffix) + ".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        _check_terminated()
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        reason = write_failure(exc)
        if reason is not None:
            raise FpgatagError(f"{path}: cannot write ({reason}); nothing was written") from None
        raise


# Set when a write failed inside an HDF5 file: the HDF5 library then holds dirty buffers it can
# never flush, and its own exit handler would crash the process (see cli.main).
WRITE_FAILED: list[str] = []


def write_failure(exc: BaseException) -> str | None:
    """The reason of a failed write (a full disk, a read-only file system, ...), or None when ``exc``
    is no write failure. HDF5 reports these as RuntimeError with the C ``errno`` in its message."""
    import re

    if isinstance(exc, OSError) and exc.errno is not None and "errno = " not in str(exc):
        return os.strerror(exc.errno)
    if isinstance(exc, (OSError, RuntimeError)):
        m = re.search(r"errno = (\d+)", str(exc))
        if m:
            WRITE_FAILED.append(str(exc))
            return os.strerror(int(m.group(1)))
    return None


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, overwrite: bool = True, kind: str | None = None) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; it replaces ``path`` on success.

    The finished directory gets an output marker of ``kind`` (default: the kind its content shows,
    see :func:`dir_kind`). An existing ``path`` is replaced only when it is empty or an fpgatag output
    of the same kind (or under :func:`forcing`); otherwise FpgatagError names it and nothing changes.
    """
    from .errors import FpgatagError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FpgatagError(f"{path}: exists and is not a directory (the output is a directory)")
    _make_parent(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        _check_terminated()
        made = kind or dir_kind(tmp) or "output"
        write_marker(tmp, made)
        if path.exists():
            if not overwrite:
                raise FileExistsError(path)
            check_output(path, made, directory=True)
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        reason = write_failure(exc)
        if reason is not None:
            raise FpgatagError(f"{path}: cannot write ({reason}); nothing was written") from None
        raise


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def to_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n"


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically. numpy scalars and arrays are converted."""
    text = to_json(obj)
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def read_json(path: str | os.PathLike, what: str = "JSON file") -> Any:
    """Read JSON, turning a missing or malformed file into a one-line FpgatagError."""
    from .errors import FpgatagError

    path = Path(path)
    if not path.is_file():
        raise FpgatagError(f"{path}: {what} not found")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FpgatagError(f"{path}: not a valid {what} ({exc.__class__.__name__}: {exc})") from None


def interrupt_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt, so atomic writers clean up their temporary files
    when a batch system or a user terminates the process."""
    import signal

    def _raise(signum, frame):  # noqa: ARG001
        TERMINATED.set()
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _raise)
