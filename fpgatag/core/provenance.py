"""Provenance: every artifact records the tool versions, the time and the settings that made it."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import platform
import sys
from typing import Any

PACKAGES = (
    "fpgatag", "numpy", "h5py", "tensorflow", "qkeras", "hls4ml", "tensorflow-model-optimization",
    "pythia8mc", "fastjet", "awkward", "uproot", "scikit-learn",
)


def package_versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of the stack (``"missing"`` for a package that is not installed)."""
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            if name == "fpgatag":
                from fpgatag import __version__

                out[name] = __version__
            else:
                out[name] = "missing"
    return out


def provenance(settings: dict[str, Any] | None = None, command: str | None = None) -> dict[str, Any]:
    """A provenance record: versions, UTC time, host, command line and the given settings."""
    return {
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command if command is not None else " ".join(sys.argv),
        "host": platform.node(),
        "machine": platform.machine(),
        "versions": package_versions(),
        "settings": settings or {},
    }
