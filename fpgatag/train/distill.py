"""Training quantized students on the trigger view: from labels alone, or distilled from a teacher.

``train_student`` trains one student preset (``fpgatag.nn.students``) with the distillation loss of
:mod:`fpgatag.train.losses`. The teacher is never run here: its logits for every jet of the data
file are read from the side file that ``fpgatag teacher-predict`` stored
(``<data>.logits.<teacher-name>.h5``, see :mod:`fpgatag.train.soft_targets`). Without a teacher the
same student is trained from the labels alone (``alpha = 1``): the baseline of every distillation
result.

The splits are uid-keyed (``fpgatag.core.splits``) with the teacher's salt and fractions (read from
its run.json), so teacher and students are scored on the same test jets. The input spec is fitted
on the training split with power-of-two scales and a fixed input precision, and saved as
inputs.json: Keras and the firmware see bit-identical inputs.

Transfer (``init_from``): the student starts from another trained student's model and inputs.json
(architecture, weights and preprocessing); ``freeze`` keeps its per-object network (the layers named
``phi*``) fixed while the rest is retrained ("frozen"), otherwise every weight is retrained
("fine-tuned").

Magnitude pruning (``sparsity``, a preset ``training`` option or ``--sparsity``): the dense and
pointwise-conv layers except ``logits`` (and frozen layers) are wrapped with
``tfmot.sparsity.keras.prune_low_magnitude`` and pruned with a ``PolynomialDecay`` schedule from 0 to
the target sparsity over the first ``pruning_epochs`` epochs (default ``min(30, epochs // 3)``), the
mask being updated once per epoch. Gradual pruning lets the network recover between steps (Zhu &
Gupta 2017); a one-shot ``ConstantSparsity`` at 75 % removes three quarters of a barely trained network at
once. Early stopping and best-weight selection only start once the target sparsity is reached, so the
kept weights always have it. The wrappers are stripped before saving: model.json/model.h5 are the
plain QKeras model with zero weights, and hls4ml's constant multipliers drop them (the firmware
estimate of :mod:`fpgatag.fpga.estimate` counts zero weights as free).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from fpgatag.core.errors import FpgatagError
from fpgatag.core.io import atomic_dir, read_json
from fpgatag.core.splits import DEFAULT_FRACTIONS
from fpgatag.nn.inputs import InputSpec
from fpgatag.train.config import TrainingConfig

log = logging.getLogger(__name__)

DEFAULT_TRAINING = {"epochs": 150, "batch_size": 256, "learning_rate": 2e-3, "patience": 15, "sparsity": 0.0,
                    "optimizer": "adam", "schedule": "constant"}
MAX_PRUNING_EPOCHS = 30
DEFAULT_ALPHA = 0.1
DEFAULT_TEMPERATURE = 2.0
PREDICTIONS = "predictions.npz"  # test split: uid, label, probs, logits (read by fpgatag.report)
PER_OBJECT_KINDS = ("particles", "trigger", "flat_particles", "flat_trigger", "hls4ml_constituents")


def logits_path(teacher_dir: str | Path, data: str | Path) -> Path:
    """Where ``fpgatag teacher-predict`` stores a teacher's logits for a data file."""
    from fpgatag.train.soft_targets import default_output

    return default_output(data, teacher_dir)


def load_teacher_logits(teacher_dir: str | Path, source, data_path: str | Path | None,
                        logits_file: str | Path | None = None) -> tuple[np.ndarray, Path]:
    """The teacher's stored logits aligned to the rows of ``source`` and the file they came from."""
    from fpgatag.train.soft_targets import load_soft_targets

    teacher_dir = Path(teacher_dir)
    if not teacher_dir.is_dir():
        raise FpgatagError(f"{teacher_dir}: teacher run directory not found")
    if logits_file is None:
        if data_path is None:
            raise FpgatagError("distill: the data source has no file path; give the teacher logits file")
        logits_file = logits_path(teacher_dir, data_path)
        if not Path(logits_file).is_file():
            raise FpgatagError(f"{teacher_dir}: no stored teacher logits for {data_path} (expected {logits_file}); "
                               f"run: fpgatag teacher-predict --teacher {teacher_dir} --data {data_path}")
    return load_soft_targets(logits_file, source, teacher_dir=teacher_dir), Path(logits_file)


def teacher_splits(teacher_dir: str | Path | None) -> tuple[tuple[float, float, float], int]:
    """(fractions, salt) of the teacher's splits (its run.json), or the defaults."""
    if teacher_dir is None:
        return DEFAULT_FRACTIONS, 0
    path = Path(teacher_dir) / "run.json"
    if not path.is_file():
        log.warning("%s: not found; assuming the default splits", path)
        return DEFAULT_FRACTIONS, 0
    rec = read_json(path, "run record").get("splits") or {}
    return tuple(rec.get("fractions", DEFAULT_FRACTIONS)), int(rec.get("salt", 0))



def pruning_epochs(epochs: int, requested: int | None = None) -> int:
    """Epochs over which the sparsity ramps from 0 to its target (at least 1, at most ``epochs``)."""
    n = min(MAX_PRUNING_EPOCHS, epochs // 3) if requested is None else int(requested)
    if n < 0:
        raise FpgatagError(f"pruning_epochs must be non-negative, got {requested}")
    return max(1, min(n, epochs))


def prune_model(net, sparsity: float, ramp_epochs: int, steps_per_epoch: int, names: list[str]):
    """``net`` with the layers ``names`` wrapped for magnitude pruning (weights kept).

    PolynomialDecay from 0 at step 0 to ``sparsity`` at the first step of epoch ``ramp_epochs - 1``
    (a ConstantSparsity from step 0 when ``ramp_epochs`` is 1), mask updated once per epoch.
    """
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot

    from fpgatag.nn.io import custom_objects

    sched = tfmot.sparsity.keras
    steps_per_epoch = max(1, int(steps_per_epoch))
    if ramp_epochs <= 1:
        schedule = sched.ConstantSparsity(sparsity, begin_step=0, frequency=steps_per_epoch)
    else:
        schedule = sched.PolynomialDecay(initial_sparsity=0.0, final_sparsity=sparsity, begin_step=0,
                                         end_step=(ramp_epochs - 1) * steps_per_epoch, frequency=steps_per_epoch)
    wanted = set(names)

    def wrap(layer):
        if layer.name in wanted:
            return sched.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer

    with tf.keras.utils.custom_object_scope(custom_objects()):
        pruned = tf.keras.models.clone_model(net, clone_function=wrap)
    return pruned


def strip_pruned(net):
    """The plain model under the pruning wrappers, every pruned weight set to exactly zero."""
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot

    from fpgatag.nn.io import custom_objects

    for layer in net.layers:
        for weight, mask, _threshold in getattr(layer, "pruning_vars", ()):
            weight.assign(weight * tf.cast(mask, weight.dtype))
    with tf.keras.utils.custom_object_scope(custom_objects()):
        return tfmot.sparsity.keras.strip_pruning(net)


def _student_spec(preset: dict[str, Any], n_objects: int | None) -> InputSpec:
    spec = InputSpec.from_dict(preset["inputs"], where=f"preset {preset['name']}: inputs")
    if n_objects is not None:
        if int(n_objects) < 1:
            raise FpgatagError(f"n_objects must be positive, got {n_objects}")
        if spec.kind in PER_OBJECT_KINDS:
            spec.n_objects = int(n_objects)
    if spec.kind.endswith("particles"):
        raise FpgatagError(f"preset {preset['name']}: students see the trigger view only (inputs kind {spec.kind!r})")
    return spec


def _setup(student: str, init_from, n_objects, bits, freeze: bool, overrides: dict[str, Any]):
    """(preset or None, params, spec, student name, training config), every option checked."""
    from fpgatag.nn.io import load_inputs
    from fpgatag.nn.presets import load_preset
    from fpgatag.nn.students import check_bits

    if init_from is None:
        if freeze:
            raise FpgatagError("freeze needs init_from (there is no trained phi network to keep)")
        preset = load_preset(student, role="student")
        params = dict(preset["params"])
        if bits is not None:
            params["bits"] = check_bits(bits)
        spec, name = _student_spec(preset, n_objects), preset["name"]
    else:
        init_from = Path(init_from)
        if not init_from.is_dir():
            raise FpgatagError(f"{init_from}: init_from run directory not found")
        preset, spec = None, load_inputs(init_from)
        prev = read_json(init_from / "metrics.json", "metrics file") if (init_from / "metrics.json").is_file() else {}
        name, params = str(prev.get("student", init_from.name)), {"bits": prev.get("bits")}
    config = TrainingConfig.resolve(DEFAULT_TRAINING, (preset or {}).get("training"), overrides, where=f"preset {name}")
    return preset, params, spec, name, config


def _teacher_targets(teacher_dir, source, data_path, logits_file, n_classes: int):
    """(teacher logits aligned to the file's rows or None, the logits file or None, out-of-fold flag)."""
    if teacher_dir is None:
        return None, None, 0
    from fpgatag.train.soft_targets import read_logits_attrs

    logits, where = load_teacher_logits(teacher_dir, source, data_path, logits_file)
    if logits.shape[1] != n_classes:
        raise FpgatagError(f"{where}: {logits.shape[1]} logits per jet, the data has {n_classes} classes")
    return logits, where, int(read_logits_attrs(where).get("out_of_fold", 0))


def _build(preset, params, spec: InputSpec, n_classes: int, init_from, freeze: bool):
    """(the student network, its frozen layers): built from the preset, or loaded from ``init_from``."""
    from fpgatag.nn.io import load_model
    from fpgatag.nn.presets import get_builder
    from fpgatag.nn.students import phi_layer_names

    if init_from is None:
        return get_builder(preset["builder"])(spec.shape, n_classes, **params), []
    net = load_model(init_from)
    if tuple(net.input_shape[1:]) != tuple(spec.shape):
        raise FpgatagError(f"{init_from}: model input {net.input_shape[1:]} does not match its inputs.json {spec.shape}")
    if not freeze:
        return net, []
    frozen = phi_layer_names(net)
    if not frozen:
        raise FpgatagError(f"{init_from}: freeze keeps the per-object layers (phi*), and this model has none")
    for layer in net.layers:
        if layer.name in frozen:
            layer.trainable = False
    return net, frozen


def _fit_student(net, name: str, config: TrainingConfig, arrays, targets, n_classes, alpha, temperature, seed,
                 sparsity: float, ramp: int):
    """Prune (when asked), compile and fit; return (plain model with the best weights, history, best, pruned layers)."""
    from fpgatag.nn.students import prunable_layer_names
    from fpgatag.train.loop import fit, make_optimizer, memory_dataset
    from fpgatag.train.losses import DistillationLoss, packed_accuracy

    pruned, first = [], []
    steps = math.ceil(len(arrays["train"][0]) / config.batch_size)
    if sparsity > 0:
        import tensorflow_model_optimization as tfmot

        pruned = prunable_layer_names(net)  # frozen layers are not trainable: never pruned
        if not pruned:
            raise FpgatagError(f"{name}: sparsity {sparsity:g} but no layer to prune")
        net = prune_model(net, sparsity, ramp, steps, pruned)
        first = [tfmot.sparsity.keras.UpdatePruningStep()]  # first: masks applied before weights are kept
        log.info("pruning %s to sparsity %g over %d epochs", ", ".join(pruned), sparsity, ramp)
    net.compile(optimizer=make_optimizer(config, steps),
                loss=DistillationLoss(alpha=alpha, temperature=temperature, n_classes=n_classes),
                metrics=[packed_accuracy(n_classes)])
    hist, best, seconds = fit(net, memory_dataset(arrays["train"][0], targets["train"], config.batch_size, True, seed),
                              memory_dataset(arrays["val"][0], targets["val"], 1024, False, seed), config,
                              start_epoch=max(ramp - 1, 0), first_callbacks=first, desc=f"train {name}")
    hist.pop("lr", None)  # a student's history records loss, accuracy and seconds per epoch
    if best.weights is not None:
        net.set_weights(best.weights)
    if sparsity > 0:
        if best.weights is None:
            log.warning("%s: training ended before the target sparsity was reached; keeping the last weights", name)
        net = strip_pruned(net)
    return net, hist, best, seconds, pruned


def _student_record(net, spec: InputSpec, params, sparsity: float, ramp: int, pruned: list[str]) -> dict[str, Any]:
    """The model's part of metrics.json: parameters, precision, objects, sparsity."""
    from fpgatag.nn.students import count_params, weight_sparsity

    rec = {"n_parameters": count_params(net), "bits": params.get("bits"), "outputs": "logits",
           "input_precision": None if spec.precision is None else list(spec.precision),
           "n_objects": spec.n_objects if spec.kind in PER_OBJECT_KINDS else None, "features": list(spec.features)}
    if sparsity > 0:
        achieved = weight_sparsity(net, pruned)
        rec.update({"target_sparsity": sparsity, "sparsity": achieved["sparsity"],
                    "quantized_sparsity": achieved["quantized_sparsity"], "pruned_layers": pruned,
                    "pruning_epochs": ramp, "layer_sparsity": achieved["layers"]})
    else:
        rec.update({"target_sparsity": 0.0, "sparsity": weight_sparsity(net)["sparsity"]})
    return rec


def _student_arrays(source, spec: InputSpec, splits, teacher_logits, n_classes: int, fit: bool, seed: int):
    """({split: (x, y)}, {split: packed targets}) in memory, the input spec fitted first when ``fit``."""
    from fpgatag.train.data import fit_inputs, input_bytes, load_arrays
    from fpgatag.train.losses import pack_targets

    if fit:
        fit_inputs(source, spec, splits["train"], seed=seed)
    need = input_bytes(spec, sum(s.size for s in splits.values()))
    if need > 4 * 2**30:
        raise FpgatagError(f"the prepared student inputs would take {need / 2**30:.1f} GiB; use fewer jets (max_jets)")
    arrays = {k: load_arrays(source, spec, idx) for k, idx in splits.items()}  # rows sorted, like splits
    targets = {k: pack_targets(arrays[k][1], n_classes, None if teacher_logits is None else teacher_logits[idx])
               for k, idx in splits.items()}
    return arrays, targets


def train_student(data, student: str = "deepsets", out_dir: str | Path = "runs/student", *, n_objects: int | None = 16,
                  bits: int | None = None, teacher_dir: str | Path | None = None, alpha: float = DEFAULT_ALPHA,
                  temperature: float = DEFAULT_TEMPERATURE, init_from: str | Path | None = None, freeze: bool = False,
                  seed: int = 0, max_jets: int | None = None, logits_file: str | Path | None = None,
                  command: str | None = None, signal: str | None = None, **training: Any) -> dict[str, Any]:
    """Train a student and write its run directory ``out_dir``; return the test metrics.

    ``teacher_dir=None`` trains from the labels alone (``alpha`` is then 1). ``n_objects`` and
    ``bits`` override the preset (``None`` keeps the preset's). ``init_from`` starts from another
    student's run directory (its architecture, weights and inputs; ``student``, ``n_objects`` and
    ``bits`` are then taken from it) and ``freeze`` fixes its ``phi*`` layers. ``training`` overrides
    the preset's training settings by their :class:`TrainingConfig` names (``epochs``, ``batch_size``,
    ``learning_rate``, ``patience``, ``sparsity``, ...); ``sparsity`` (default the preset's, else 0)
    prunes the dense/conv kernels by magnitude to that fraction of zeros (see the module docstring).
    ``signal`` names the class the test split's rejections are of (default: the last class).
    """
    import tensorflow as tf

    from fpgatag.core.metrics import signal_index
    from fpgatag.nn.students import check_sparsity, softmax
    from fpgatag.train.data import as_source
    from fpgatag.train.loop import check_splits, make_splits
    from fpgatag.train.losses import check_alpha_temperature
    from fpgatag.train.runs import data_record, split_record, write_run

    # ---- check every option before any heavy work ----
    preset, params, spec, name, config = _setup(student, init_from, n_objects, bits, freeze, training)
    alpha = 1.0 if teacher_dir is None else alpha
    check_alpha_temperature(alpha, temperature)
    sparsity = check_sparsity(config.sparsity or 0.0, "sparsity" if training.get("sparsity") is not None
                              else f"preset {name}: training.sparsity")
    ramp = pruning_epochs(config.epochs, config.pruning_epochs) if sparsity > 0 else 0
    source = as_source(data)
    data_path = Path(data) if isinstance(data, (str, Path)) else getattr(source, "path", None)
    n_classes = len(source.classes)
    signal_index(source.classes, signal, where=str(data_path or "data"))   # a bad --signal fails before training
    teacher_logits, logits_source, out_of_fold = _teacher_targets(teacher_dir, source, data_path, logits_file, n_classes)

    # ---- splits: uid-keyed, with the teacher's salt and fractions ----
    fractions, salt = teacher_splits(teacher_dir)
    uids, labels, chosen, splits = make_splits(source, max_jets, seed, fractions, salt)
    check_splits(splits, labels, chosen.size, data_path)
    arrays, targets = _student_arrays(source, spec, splits, teacher_logits, n_classes, fit=init_from is None, seed=seed)
    log.info("%s: %d jets (train %d / val %d / test %d), inputs %s, teacher %s, alpha %g, T %g", name, chosen.size,
             splits["train"].size, splits["val"].size, splits["test"].size, spec.shape, teacher_dir or "none",
             alpha, temperature)

    # ---- model ----
    tf.keras.utils.set_random_seed(seed)
    net, frozen = _build(preset, params, spec, n_classes, init_from, freeze)
    net, hist, best, train_seconds, pruned = _fit_student(net, name, config, arrays, targets, n_classes, alpha,
                                                          temperature, seed, sparsity, ramp)

    # ---- test split ----
    x_test, y_test = arrays["test"]
    logits = net.predict(x_test, batch_size=1024, verbose=0).astype(np.float32)
    probs = softmax(logits)
    extra = {"role": "student", "student": name, **_student_record(net, spec, params, sparsity, ramp, pruned),
             "teacher_dir": None if teacher_dir is None else str(Path(teacher_dir).resolve()),
             "distilled": teacher_dir is not None, "out_of_fold": out_of_fold,
             "alpha": float(alpha), "temperature": float(temperature),
             "init_from": None if init_from is None else str(Path(init_from).resolve()), "freeze": bool(freeze),
             "seed": int(seed), "n_train": int(splits["train"].size), "best_epoch": best.best_epoch + 1,
             "train_seconds": round(train_seconds, 3)}
    settings = {"student": name, "preset": preset, "params": params, "training": config.to_dict(),
                "epochs_run": len(hist.get("loss", [])), "max_jets": max_jets, "frozen_layers": frozen,
                "logits_file": None if logits_source is None else str(logits_source.resolve()), **extra}
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        metrics = write_run(tmp, name=out_dir.name, labels=y_test, probs=probs, classes=source.classes, model=net,
                            inputs=spec, history=hist, settings=settings,
                            splits=split_record(splits, fractions, salt, labels),
                            data=data_record(source, data_path), extra_metrics=extra, command=command,
                            uids=uids[splits["test"]], signal=signal)
        # the same file as write_run's, plus the logits (what the firmware computes)
        np.savez_compressed(tmp / PREDICTIONS, uid=uids[splits["test"]], label=y_test, probs=probs.astype(np.float32),
                            logits=logits)
    _log_result(name, metrics, out_dir)
    return metrics


def _log_result(name: str, metrics: dict[str, Any], out_dir: Path) -> None:
    log.info("%s: test AUC %.4f +- %.4f, accuracy %.4f, R50 %.1f (%d background jets pass), %d test jets -> %s",
             name, metrics["auc"], metrics["auc_err"], metrics["accuracy"], metrics["rejection_at_50"],
             metrics["n_background_passing_50"], metrics["n_test"], out_dir)
