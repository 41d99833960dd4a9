"""Model presets picked by name, and the builders that turn them into Keras models.

A preset is a JSON file ``<name>.json`` in the package's preset folder (``fpgatag/presets``; the
environment variable ``FPGATAG_MODELS=DIR`` replaces it by ``DIR/presets``), or any preset file
given by path (``PATH.json``)::

    {
      "description": "one line",
      "role": "teacher" | "student" | "autoencoder",
      "extends": "deepsets",              # optional: start from another preset (name or PATH.json)
      "builder": "particlenet",          # a function registered with @builder("particlenet")
      "params": {...},                    # keyword arguments of the builder
      "inputs": {...},                    # an InputSpec dict (fpgatag.nn.inputs)
      "training": {...}                   # optimiser/schedule defaults for this model
    }

Every preset is checked when it is loaded (:func:`validate_preset`): unknown top-level keys, builder
parameters the builder does not take, training settings the role does not read, settings of the
wrong type and unknown input settings are errors naming the preset file and the key. ``extends``
merges section by section: the extending preset's ``params``, ``inputs`` and ``training`` keys
replace the base's keys of the same name, the others are kept. Input precision is
``inputs.input_bits``/``inputs.input_integer_bits`` (an ``ap_fixed<W, I>``); the network's own
quantizer width is the builder parameter ``params.bits``.

Builders follow one contract (like weaver's ``get_model``): ``build(input_shape, n_classes, **params)``
returns an uncompiled ``tf.keras.Model`` with deterministic layer names. Modules that define builders
are listed in ``BUILDER_MODULES`` and imported on first use; a failing import is an error.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterable

from fpgatag.core.errors import FpgatagError

PACKAGE_PRESET_DIR = Path(__file__).resolve().parents[1] / "presets"

BUILDER_MODULES: tuple[str, ...] = ("fpgatag.nn.particlenet", "fpgatag.nn.dense", "fpgatag.nn.students",
                                     "fpgatag.nn.lundnet", "fpgatag.nn.recurrent", "fpgatag.nn.autoencoder")

ROLES = ("teacher", "student", "autoencoder")
TOP_LEVEL = ("description", "role", "extends", "builder", "params", "inputs", "training", "name")
# The training settings each role's training loop reads (fpgatag.train.config.TrainingConfig names),
# and their types; ``lr`` and ``early_stopping`` are earlier names that the training loop still reads
# (with a deprecation warning) as ``learning_rate`` and ``patience``.
_INT, _NUM, _STR = (int,), (int, float), (str,)
_COMMON = {"epochs": _INT, "batch_size": _INT, "learning_rate": _NUM, "patience": _INT, "optimizer": _STR,
           "weight_decay": _NUM, "schedule": _STR, "lr": _NUM, "early_stopping": _INT}
_EARLIER = ("lr", "early_stopping")
TRAINING_KEYS: dict[str, dict[str, tuple[type, ...]]] = {
    "teacher": _COMMON,
    "student": {**_COMMON, "sparsity": _NUM, "pruning_epochs": _INT},
    "autoencoder": {**_COMMON, "train_on": _STR},
}

_BUILDERS: dict[str, Callable[..., Any]] = {}
_PARAMS: dict[str, list[str] | None] = {}
_NOT_PARAMS = ("cell", "input_shape", "n_classes")  # what the caller gives a builder, never a preset


def _keyword_params(fn: Callable[..., Any]) -> list[str] | None:
    params = [p for p in inspect.signature(fn).parameters.values() if p.name not in _NOT_PARAMS]
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def builder(name: str, params_of: Callable[..., Any] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a model builder under ``name``. Its preset ``params`` are the keyword parameters of
    the builder besides ``(input_shape, n_classes)``, or those of ``params_of`` (for a builder that
    passes ``**params`` on)."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in _BUILDERS and _BUILDERS[name] is not fn:
            raise RuntimeError(f"model builder {name!r} registered twice")
        _BUILDERS[name] = fn
        _PARAMS[name] = _keyword_params(params_of or fn)
        return fn

    return deco


def preset_params(name: str, names: Iterable[str]) -> None:
    """Declare the preset ``params`` of a builder name whose model is built outside this registry
    (the autoencoder, built by its training loop)."""
    _PARAMS[name] = list(names)


def _import_builders() -> None:
    for module in BUILDER_MODULES:
        importlib.import_module(module)


def get_builder(name: str) -> Callable[..., Any]:
    _import_builders()
    if name not in _BUILDERS:
        raise FpgatagError(f"unknown model builder {name!r}; known: {', '.join(sorted(_BUILDERS))}")
    return _BUILDERS[name]


def builder_params(name: str) -> list[str] | None:
    """The preset parameter names of builder ``name`` (``None``: the builder takes any)."""
    _import_builders()
    if name not in _PARAMS:
        raise FpgatagError(f"unknown model builder {name!r}; known: {', '.join(sorted(_PARAMS))}")
    return _PARAMS[name]


def preset_dir() -> Path:
    """The folder presets are picked from by name."""
    models = os.environ.get("FPGATAG_MODELS")
    return Path(models) / "presets" if models else PACKAGE_PRESET_DIR


def list_presets(role: str | None = None) -> list[str]:
    names = []
    for path in sorted(preset_dir().glob("*.json")):
        if role is None or _resolve(path).get("role") == role:
            names.append(path.stem)
    return names


def preset_path(name: str, base: Path | None = None) -> Path:
    """The file of preset ``name`` (a plain name, or a ``.json`` path; relative paths of an
    ``extends`` are relative to the extending file's folder ``base``)."""
    if name.endswith(".json"):
        path = Path(name)
        return path if path.is_absolute() or base is None else base / path
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise FpgatagError(f"preset {name!r}: a preset name is a plain name (letters, digits, - _ .); "
                           "give a preset file as PATH.json")
    return preset_dir() / f"{name}.json"


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FpgatagError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise FpgatagError(f"{path}: a preset is a JSON object, not {type(data).__name__}")
    return data


def _resolve(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The preset at ``path`` with its ``extends`` chain merged in."""
    data = _read(path)
    unknown = sorted(set(data) - set(TOP_LEVEL))
    if unknown:
        raise FpgatagError(f"{path}: unknown preset key(s) {', '.join(unknown)}; known: {', '.join(TOP_LEVEL)}")
    for section in ("params", "inputs", "training"):
        if section in data and not isinstance(data[section], dict):
            raise FpgatagError(f"{path}: {section} must be a JSON object")
    if "extends" not in data:
        return data
    if not isinstance(data["extends"], str):
        raise FpgatagError(f"{path}: extends must be a preset name or PATH.json")
    base_path = preset_path(data["extends"], base=path.parent).resolve()
    if base_path in seen or base_path == path.resolve():
        raise FpgatagError(f"{path}: extends {data['extends']!r} makes a cycle")
    if not base_path.is_file():
        raise FpgatagError(f"{path}: extends {data['extends']!r}, which is not a preset ({base_path} not found)")
    base = _resolve(base_path, seen + (path.resolve(),))
    base.pop("name", None)
    merged = {**base, **{k: v for k, v in data.items() if k not in ("params", "inputs", "training")}}
    for section in ("params", "inputs", "training"):
        if section in base or section in data:
            merged[section] = {**base.get(section, {}), **data.get(section, {})}
    return merged


def _check_keys(path: Path, section: str, given: Iterable[str], known: Iterable[str], what: str,
                also: Iterable[str] = ()) -> None:
    """``also``: accepted but not listed (earlier names)."""
    known = list(known)
    unknown = sorted(set(given) - set(known) - set(also))
    if unknown:
        raise FpgatagError(f"{path}: {section}.{unknown[0]} is not a {what}; known: {', '.join(known)}")


def validate_preset(preset: dict[str, Any], path: Path) -> None:
    """FpgatagError naming ``path`` and the key for anything a loader would trip on or ignore."""
    from fpgatag.nn.inputs import OLD_NAMES, InputSpec

    for key in ("role", "builder", "params", "inputs"):
        if key not in preset:
            raise FpgatagError(f"{path}: preset lacks the field {key!r}")
    role = preset["role"]
    if role not in ROLES:
        raise FpgatagError(f"{path}: role {role!r} is not one of {', '.join(ROLES)}")
    _import_builders()
    if preset["builder"] not in _PARAMS:
        raise FpgatagError(f"{path}: builder {preset['builder']!r} is not a model builder; "
                           f"known: {', '.join(sorted(_PARAMS))}")
    names = builder_params(preset["builder"])
    if names is not None:
        _check_keys(path, "params", preset["params"], names, f"parameter of builder {preset['builder']!r}")
    known = TRAINING_KEYS[role]
    training = preset.get("training", {})
    _check_keys(path, "training", training, [k for k in known if k not in _EARLIER], f"{role} training setting",
                also=_EARLIER)
    for key, value in training.items():
        if isinstance(value, bool) or not isinstance(value, known[key]):
            kind = " or ".join(t.__name__ for t in known[key])
            raise FpgatagError(f"{path}: training.{key} must be {kind}, got {value!r}")
    old = sorted(set(preset["inputs"]) & set(OLD_NAMES))  # input precision once had the weights' names
    if old:
        raise FpgatagError(f"{path}: inputs.{old[0]} is an old name: rename inputs.bits to inputs.input_bits "
                           "and inputs.integer_bits to inputs.input_integer_bits")
    InputSpec.from_dict(preset["inputs"], where=f"{path}: inputs")


def load_preset(name: str, role: str | None = None) -> dict[str, Any]:
    """The checked preset dict for ``name`` (or a path to a preset JSON file), ``extends`` merged."""
    path = preset_path(name)
    if not path.is_file():
        known = ", ".join(list_presets(role)) or "none"
        raise FpgatagError(f"unknown {role or 'model'} preset {name!r}; known: {known}")
    preset = _resolve(path)
    validate_preset(preset, path)
    if role is not None and preset["role"] != role:
        raise FpgatagError(f"preset {name!r} is a {preset['role']} model, not a {role}")
    preset.setdefault("name", path.stem)
    preset.setdefault("training", {})
    return preset
