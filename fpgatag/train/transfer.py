"""Transfer learning between teachers: start a teacher from another task's trained teacher.

Two methods, as in Dreyer, Grabarczyk, Monni (arXiv:2203.06210):

* **fine-tuning**: every weight starts from the source teacher and all are retrained, at the
  preset's learning rate times ``lr_factor`` (default 0.1);
* **frozen**: the input batch normalisation and the EdgeConv blocks keep the source's weights
  (layers named ``fts_bn*`` and ``edgeconv*``, ParticleNet and LundNet alike); the layers after them
  (LundNet's fusion block, the fully connected layers, the logits) are retrained at the preset's
  learning rate times ``lr_factor`` (default 1).

The target run uses the source's input spec unchanged (its fitted offsets and scales): the
transferred weights expect the inputs they were trained on. The source and target architectures must
match layer by layer (same preset, same number of classes); a mismatch names the layer.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from fpgatag.core.errors import FpgatagError

log = logging.getLogger(__name__)

FROZEN_PREFIXES = ("fts_bn", "edgeconv")
DEFAULT_LR_FACTOR = {"fine-tune": 0.1, "freeze": 1.0}


def check_source(directory) -> Path:
    """Cheap checks of a source run directory (before TensorFlow loads); returns it as a Path."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FpgatagError(f"init_from {directory}: not a run directory")
    for name in ("model.json", "model.h5", "inputs.json", "run.json"):
        if not (directory / name).is_file():
            raise FpgatagError(f"init_from {directory}: {name} is missing (give a train-teacher run directory)")
    return directory


def source_record(directory) -> dict[str, Any]:
    """The source run's preset, input spec dict and classes."""
    from fpgatag.core.io import read_json

    directory = check_source(directory)
    run = read_json(directory / "run.json")
    settings = run.get("settings") or {}
    preset = settings.get("preset")
    if not isinstance(preset, dict) or "builder" not in preset:
        raise FpgatagError(f"init_from {directory}: run.json holds no teacher preset (settings.preset)")
    classes = (run.get("data") or {}).get("classes") or run.get("classes")
    return {"dir": directory, "preset": preset, "inputs": read_json(directory / "inputs.json"),
            "classes": classes, "model": settings.get("model", preset.get("name"))}


def copy_weights(source_model, target_model, where: str) -> int:
    """Copy every layer's weights from ``source_model`` into the same-named layer of ``target_model``."""
    src = {layer.name: layer for layer in source_model.layers}
    copied = 0
    for layer in target_model.layers:
        if not layer.weights:
            continue
        if layer.name not in src:
            raise FpgatagError(f"{where}: the source model has no layer {layer.name!r} (different architecture)")
        values = src[layer.name].get_weights()
        shapes = [tuple(w.shape) for w in layer.get_weights()]
        if [tuple(np.shape(v)) for v in values] != shapes:
            raise FpgatagError(f"{where}: layer {layer.name!r} has weights {[tuple(np.shape(v)) for v in values]} "
                               f"in the source, {shapes} here (different preset or number of classes)")
        layer.set_weights(values)
        copied += 1
    return copied


def freeze(model, prefixes=FROZEN_PREFIXES, trainable: bool = False) -> list[str]:
    """Set ``trainable`` of the layers whose names start with ``prefixes``; return their names."""
    names = []
    for layer in model.layers:
        if layer.name.startswith(tuple(prefixes)) and layer.weights:
            layer.trainable = trainable
            names.append(layer.name)
    return names


def frozen_parameters(model, names) -> int:
    by_name = {layer.name: layer for layer in model.layers}
    return int(sum(int(np.prod(w.shape)) for n in names for w in by_name[n].weights))
