"""Model presets picked by name, and the builders that turn them into Keras models.

A preset is a JSON file ``models/presets/<name>.json``::

    {
      "description": "one line",
      "role": "teacher" | "student",
      "builder": "particlenet",          # a function registered with @builder("particlenet")
      "params": {...},                    # keyword arguments of the builder
      "inputs": {...},                    # an InputSpec dict (fpgatag.nn.inputs)
      "training": {...}                   # optimiser/schedule defaults for this model
    }

Builders follow one contract (like weaver's ``get_model``): ``build(input_shape, n_classes, **params)``
returns an uncompiled ``tf.keras.Model`` with deterministic layer names. Modules that define builders
are listed in ``BUILDER_MODULES`` and imported on first use; a failing import is an error.
"""

from __future__ import annotations

import importlib
import json
import re
import os
from pathlib import Path
from typing import Any, Callable

from fpgatag.core.errors import FpgatagError

PRESET_DIR = Path(os.environ.get("FPGATAG_MODELS", Path(__file__).resolve().parents[2] / "models")) / "presets"

BUILDER_MODULES: tuple[str, ...] = ("fpgatag.nn.particlenet", "fpgatag.nn.dense", "fpgatag.nn.students",
                                     "fpgatag.nn.lundnet")

_BUILDERS: dict[str, Callable[..., Any]] = {}


def builder(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a model builder under ``name``."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in _BUILDERS and _BUILDERS[name] is not fn:
            raise RuntimeError(f"model builder {name!r} registered twice")
        _BUILDERS[name] = fn
        return fn

    return deco


def get_builder(name: str) -> Callable[..., Any]:
    for module in BUILDER_MODULES:
        importlib.import_module(module)
    if name not in _BUILDERS:
        raise FpgatagError(f"unknown model builder {name!r}; known: {', '.join(sorted(_BUILDERS))}")
    return _BUILDERS[name]


def list_presets(role: str | None = None) -> list[str]:
    names = []
    for path in sorted(PRESET_DIR.glob("*.json")):
        if role is None or json.loads(path.read_text()).get("role") == role:
            names.append(path.stem)
    return names


def load_preset(name: str, role: str | None = None) -> dict[str, Any]:
    """The preset dict for ``name`` (or a path to a preset JSON file)."""
    if not name.endswith(".json") and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise FpgatagError(f"preset {name!r}: a preset name is a plain name (letters, digits, - _ .); "
                           "give a preset file as PATH.json")
    path = Path(name) if name.endswith(".json") else PRESET_DIR / f"{name}.json"
    if not path.is_file():
        known = ", ".join(list_presets(role)) or "none"
        raise FpgatagError(f"unknown {role or 'model'} preset {name!r}; known: {known}")
    try:
        preset = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FpgatagError(f"{path}: not valid JSON ({exc})") from None
    for key in ("builder", "params", "inputs"):
        if key not in preset:
            raise FpgatagError(f"{path}: preset lacks the field {key!r}")
    if role is not None and preset.get("role", role) != role:
        raise FpgatagError(f"preset {name!r} is a {preset.get('role')} model, not a {role}")
    preset.setdefault("name", path.stem)
    preset.setdefault("training", {})
    return preset
