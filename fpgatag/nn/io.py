"""Saving and loading models: architecture JSON + HDF5 weights + the input spec.

QKeras models do not round-trip through ``.keras`` files on this stack, so a saved model is a
directory (or the files inside a run directory)::

    model.json    Keras architecture (``model.to_json()``)
    model.h5      weights (``model.save_weights``)
    inputs.json   the :class:`~fpgatag.nn.inputs.InputSpec` that prepares the model's inputs

Custom layers register themselves with ``tf.keras.utils.register_keras_serializable`` in the
modules listed in ``CUSTOM_LAYER_MODULES``, which are imported before loading.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from fpgatag.core.errors import FpgatagError
from fpgatag.core.io import atomic_path, read_json, write_json
from fpgatag.nn.inputs import InputSpec

MODEL_JSON = "model.json"
MODEL_WEIGHTS = "model.h5"
INPUTS_JSON = "inputs.json"

CUSTOM_LAYER_MODULES: tuple[str, ...] = ("fpgatag.nn.layers", "fpgatag.nn.recurrent")  # recurrent: QKeras/TF 2.14 compat


def custom_objects() -> dict[str, Any]:
    """QKeras' quantized layers and quantizers, plus fpgatag's registered layers."""
    from qkeras.utils import _add_supported_quantized_objects

    for name in CUSTOM_LAYER_MODULES:
        importlib.import_module(name)
    from fpgatag.nn.recurrent import qkeras_compat

    qkeras_compat()
    co: dict[str, Any] = {}
    _add_supported_quantized_objects(co)
    return co


def save_model(model, directory: str | Path, inputs: InputSpec | None = None) -> Path:
    """Write model.json, model.h5 (and inputs.json) into ``directory``, each file atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_path(directory / MODEL_JSON) as tmp:
        tmp.write_text(json.dumps(json.loads(model.to_json()), indent=1))
    with atomic_path(directory / MODEL_WEIGHTS) as tmp:
        model.save_weights(str(tmp), save_format="h5")
    if inputs is not None:
        write_json(directory / INPUTS_JSON, inputs.to_dict())
    return directory


def load_model(directory: str | Path):
    """Load a model saved by :func:`save_model` (architecture JSON + weights)."""
    directory = Path(directory)
    arch, weights = directory / MODEL_JSON, directory / MODEL_WEIGHTS
    for path in (arch, weights):
        if not path.is_file():
            raise FpgatagError(f"{path}: not found (a model directory holds {MODEL_JSON} and {MODEL_WEIGHTS})")
    return model_from_json_and_weights(arch.read_text(), arch, weights)


# Layers whose saved config is code (marshalled bytecode, or the name of any TensorFlow function):
# loading them would run what a model file says, so they are refused by name before deserializing.
UNSAFE_LAYERS = ("Lambda", "TFOpLambda", "SlicingOpLambda", "__lambda__")


def check_architecture(arch: Any, where: str | Path) -> None:
    """FpgatagError naming the first layer of ``arch`` (a Keras config) that would execute code."""
    stack = [arch]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("class_name") in UNSAFE_LAYERS:
                cfg = node.get("config") if isinstance(node.get("config"), dict) else {}
                raise FpgatagError(f"{where}: layer {cfg.get('name', '?')!r}: type {node['class_name']} holds code "
                                   "and is not loaded (fpgatag runs no code from model files)")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _architecture(arch_json: str, where: str | Path) -> str:
    try:
        arch = json.loads(arch_json)
    except (json.JSONDecodeError, TypeError) as exc:
        raise FpgatagError(f"{where}: not a Keras model architecture (invalid JSON: {exc})") from None
    check_architecture(arch, where)
    from fpgatag.nn.recurrent import loadable_architecture

    return json.dumps(loadable_architecture(arch))


def model_from_json_and_weights(arch_json: str, arch_path: Path, weights: Path, co: dict[str, Any] | None = None):
    """A Keras model from an architecture JSON string and a weights file; errors name the file.

    The architecture is checked for code-holding layers first and deserialized in Keras safe mode."""
    import tensorflow as tf
    from keras.src.saving.serialization_lib import SafeModeScope

    arch_json = _architecture(arch_json, arch_path)
    try:
        with SafeModeScope(True):
            model = tf.keras.models.model_from_json(arch_json, custom_objects=custom_objects() if co is None else co)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise FpgatagError(f"{arch_path}: not a loadable Keras model architecture ({exc})") from None
    try:
        model.load_weights(str(weights))
    except (OSError, ValueError) as exc:
        raise FpgatagError(f"{weights}: weights do not load into {Path(arch_path).name} ({exc})") from None
    return model


def load_inputs(directory: str | Path) -> InputSpec:
    path = Path(directory) / INPUTS_JSON
    return InputSpec.from_dict(read_json(path, "input spec"), where=str(path))


def load_h5_model(path: str | Path, co: dict[str, Any] | None = None):
    """A full Keras model from a legacy ``.h5`` file, loaded safely: its architecture (the file's
    ``model_config`` attribute) is checked and deserialized in safe mode, then the weights load.
    Keras' own ``load_model`` would run a Lambda layer's marshalled code while loading."""
    import h5py

    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            config = f.attrs.get("model_config")
    except OSError as exc:
        raise FpgatagError(f"{path}: cannot read HDF5 file ({exc})") from None
    if config is None:
        raise FpgatagError(f"{path}: HDF5 file holds no full Keras model (no model_config); "
                           "for weights only, pass the JSON architecture with --weights")
    if isinstance(config, bytes):
        config = config.decode("utf-8", "replace")
    return model_from_json_and_weights(str(config), path, path, co)
