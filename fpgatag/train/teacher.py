"""Training a teacher (ParticleNet, ParticleNet-Lite or the dense teacher) on the full-resolution view.

Recipe (the paper's, arXiv:1902.08570 sec. 4): AdamW (Adam with decoupled weight decay 1e-4) and a
one-cycle learning rate: linear warm-up from ``lr`` to ``10 * lr`` over the first 40 % of the steps,
back down to ``lr`` over the next 40 %, then annealing to 5e-7 over the last 20 % (the paper's 8 + 8
+ 4 of 20 epochs with lr = 3e-4, batch 384). Presets may choose ``"schedule": "constant"``.

The settings are one :class:`fpgatag.train.config.TrainingConfig` (the preset's ``training`` dict,
overridden by keyword arguments) and the loop is :func:`fpgatag.train.loop.fit`, shared with the
students: the weights of the epoch with the lowest validation loss are kept (``patience=N`` also
stops after N epochs without improvement). Splits are uid-keyed (``fpgatag.core.splits``) and recorded in
run.json with their salt, fractions and counts, so students are scored on the same test jets.

Devices: :mod:`fpgatag.train.distribute` (``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` is set,
``MirroredStrategy`` with more than one GPU, TensorFlow's default strategy otherwise); the run
directory is the same in every case. ``mixed_precision`` trains in float16 with float32 logits and softmax; the saved
model is always float32.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

from fpgatag.core.errors import FpgatagError
from fpgatag.core.io import atomic_dir
from fpgatag.core.metrics import signal_index
from fpgatag.core.splits import DEFAULT_FRACTIONS, assign_folds
from fpgatag.nn.inputs import InputSpec
from fpgatag.nn.presets import get_builder, load_preset
from fpgatag.train.config import SCHEDULES, TrainingConfig  # noqa: F401  (SCHEDULES: the known schedules)
from fpgatag.train.distribute import failures, is_chief, select_strategy  # noqa: F401  (select_strategy: public here too)
from fpgatag.train.loop import FINAL_LR, fit, make_optimizer, one_cycle  # noqa: F401  (one_cycle, FINAL_LR: public)

log = logging.getLogger(__name__)

DEFAULT_TRAINING = {
    "optimizer": "adamw",
    "learning_rate": 3e-4,
    "weight_decay": 1e-4,
    "schedule": "one-cycle",
    "batch_size": 384,
    "epochs": 20,
    "patience": 0,
}
# Train from memory when the prepared train + validation inputs take less than this (bytes).
IN_MEMORY_LIMIT = int(float(os.environ.get("FPGATAG_IN_MEMORY_MB", "1024")) * 2**20)


def _transfer_source(init_from, model, freeze, lr_factor) -> dict[str, Any] | None:
    """The source of a transferred teacher (None without ``init_from``), checked before any work."""
    if init_from is None:
        if freeze or lr_factor is not None:
            raise FpgatagError("freeze and lr_factor need init_from (the source teacher's run directory)")
        return None
    from fpgatag.train.transfer import DEFAULT_LR_FACTOR, source_record

    src = source_record(init_from)
    if model is not None and load_preset(model, role="teacher")["name"] != src["preset"].get("name"):
        raise FpgatagError(f"model {model}: the source teacher {init_from} is a {src['preset'].get('name')}; "
                           "transfer needs the same preset (leave the model out)")
    method = "freeze" if freeze else "fine-tune"
    factor = DEFAULT_LR_FACTOR[method] if lr_factor is None else float(lr_factor)
    if not factor > 0:
        raise FpgatagError(f"lr_factor must be > 0, got {lr_factor}")
    return {**src, "method": method, "lr_factor": factor, "frozen": []}


def _start_from_source(net, transfer: dict[str, Any]) -> list[str]:
    """Load the source teacher's weights into ``net`` and freeze its EdgeConv blocks if asked."""
    from fpgatag.nn.io import load_model
    from fpgatag.train.transfer import copy_weights, freeze

    copy_weights(load_model(transfer["dir"]), net, f"init_from {transfer['dir']}")
    frozen = freeze(net) if transfer["method"] == "freeze" else []
    log.info("initialised from %s (%s, lr factor %g)%s", transfer["dir"], transfer["method"], transfer["lr_factor"],
             f"; {len(frozen)} layers frozen" if frozen else "")
    return frozen


def _transfer_record(transfer: dict[str, Any] | None, model) -> dict[str, Any] | None:
    if not transfer:
        return None
    from fpgatag.train.transfer import frozen_parameters

    return {"init_from": str(Path(transfer["dir"]).resolve()), "source_model": transfer["model"],
            "source_classes": transfer["classes"], "method": transfer["method"], "lr_factor": transfer["lr_factor"],
            "frozen_layers": transfer["frozen"], "frozen_parameters": frozen_parameters(model, transfer["frozen"])}


def _setup(model, init_from, freeze, lr_factor, n_particles, overrides) -> tuple[dict, dict | None, TrainingConfig, InputSpec]:
    """(preset, transfer source, training config, input spec), every option checked."""
    transfer = _transfer_source(init_from, model, freeze, lr_factor)
    preset = transfer["preset"] if transfer else load_preset(model or "particlenet-lite", role="teacher")
    config = TrainingConfig.resolve(DEFAULT_TRAINING, preset.get("training"), overrides,
                                    where=f"preset {preset['name']}")
    if transfer:
        config.learning_rate = float(config.learning_rate) * transfer["lr_factor"]
    spec = InputSpec.from_dict(transfer["inputs"] if transfer else preset["inputs"],
                               where=f"preset {preset['name']}: inputs")
    if n_particles is not None:
        if n_particles < 1:
            raise FpgatagError(f"n_particles must be positive, got {n_particles}")
        spec.n_objects = int(n_particles)
    return preset, transfer, config, spec


def _splits(source, max_jets, seed, fractions, salt, fold):
    """(uids, labels, chosen rows, splits, fold record): uid-keyed splits, a fold's training jets left out."""
    from fpgatag.train.loop import check_splits, make_splits

    uids, labels, chosen, splits = make_splits(source, max_jets, seed, fractions, salt)
    fold_record = None
    if fold is not None:
        k_index, k_count = int(fold[0]), int(fold[1])
        if k_count < 2 or not 0 <= k_index < k_count:
            raise FpgatagError(f"fold {k_index}/{k_count}: need K >= 2 folds and 0 <= i < K")
        in_fold = assign_folds(uids[splits["train"]], k_count, salt) == k_index
        fold_record = {"index": k_index, "count": k_count, "salt": int(salt),
                       "held_out_train_jets": int(in_fold.sum())}
        splits["train"] = splits["train"][~in_fold]
        log.info("fold %d/%d: %d training jets of this fold left out", k_index, k_count, int(in_fold.sum()))
    check_splits(splits, labels, chosen.size, getattr(source, "path", "data"))
    return uids, labels, chosen, splits, fold_record


def _datasets(source, spec: InputSpec, splits, batch_size: int, seed: int, stream: bool | None, soft=None):
    """(train, validation) datasets and whether they stream from the file; with ``soft`` (a teacher's
    logits aligned to the file's rows) the targets are packed ``[one_hot | logits]``, in memory."""
    from fpgatag.train.data import input_bytes, load_arrays, make_dataset
    from fpgatag.train.loop import memory_dataset
    from fpgatag.train.losses import pack_targets

    if stream is None:
        stream = soft is None and input_bytes(spec, splits["train"].size + splits["val"].size) > IN_MEMORY_LIMIT
    if stream and soft is not None:
        raise FpgatagError("distill_from: a teacher trained on soft targets reads its inputs in memory (stream=False)")
    if stream:
        return (make_dataset(source, spec, splits["train"], batch_size, shuffle=True, seed=seed),
                make_dataset(source, spec, splits["val"], batch_size), True)
    arrays = {k: load_arrays(source, spec, splits[k]) for k in ("train", "val")}
    if soft is not None:
        n = len(source.classes)
        arrays = {k: (x, pack_targets(y, n, soft[splits[k]])) for k, (x, y) in arrays.items()}
    return (memory_dataset(*arrays["train"], batch_size, True, seed),
            memory_dataset(*arrays["val"], batch_size, False, seed), False)


def _train(preset, spec, n_classes, config: TrainingConfig, transfer, strategy, mixed_precision, datasets, n_train,
           soft_loss=None):
    """Build, compile and fit the teacher (cross-entropy, or ``soft_loss``: (alpha, T) of the distillation
    loss on packed targets); return (float32 model with the best weights, history, best, seconds)."""
    import tensorflow as tf

    from fpgatag.train.losses import DistillationLoss, packed_accuracy

    build = get_builder(preset["builder"])
    previous = tf.keras.mixed_precision.global_policy()
    tf.keras.mixed_precision.set_global_policy("mixed_float16" if mixed_precision else "float32")
    try:
        with strategy.scope():
            net = build(spec.shape, n_classes, **preset["params"])
            if transfer:
                transfer["frozen"] = _start_from_source(net, transfer)
            loss, metrics = tf.keras.losses.SparseCategoricalCrossentropy(), ["accuracy"]
            if soft_loss is not None:
                loss = DistillationLoss(*soft_loss, n_classes=n_classes, from_probabilities=True)
                metrics = [packed_accuracy(n_classes)]
            net.compile(optimizer=make_optimizer(config, math.ceil(n_train / config.batch_size)), loss=loss,
                        metrics=metrics)
        with failures():   # a lost worker of a multi-worker run: one line, nothing saved
            hist, best, seconds = fit(net, datasets[0], datasets[1], config, desc=f"train {preset['name']}")
    finally:
        tf.keras.mixed_precision.set_global_policy(previous)
    # the saved teacher is a float32 copy holding the best epoch's weights
    final = build(spec.shape, n_classes, **preset["params"])
    if transfer and transfer["frozen"]:  # same weight order as the trained model, then all trainable again
        from fpgatag.train.transfer import freeze as set_trainable

        set_trainable(final)
    final.set_weights(best.weights if best.weights is not None else net.get_weights())
    if transfer and transfer["frozen"]:
        set_trainable(final, trainable=True)
    return final, hist, best, seconds


def _soft_targets(distill_from, logits_file, alpha, temperature, source, data):
    """(a source teacher's logits aligned to the rows, its record with its splits) or (None, None)."""
    if distill_from is None:
        if logits_file is not None:
            raise FpgatagError("logits_file needs distill_from (the source teacher's run directory)")
        return None, None
    from fpgatag.train.distill import load_teacher_logits, teacher_splits
    from fpgatag.train.losses import check_alpha_temperature

    check_alpha_temperature(alpha, temperature)
    path = Path(data) if isinstance(data, (str, Path)) else getattr(source, "path", None)
    logits, where = load_teacher_logits(distill_from, source, path, logits_file)
    if logits.shape[1] != len(source.classes):
        raise FpgatagError(f"{where}: {logits.shape[1]} logits per jet, the data has {len(source.classes)} classes")
    return logits, {"teacher_dir": str(Path(distill_from).resolve()), "logits_file": str(where.resolve()),
                    "alpha": float(alpha), "temperature": float(temperature), "splits": teacher_splits(distill_from)}


def _write(out_dir: Path, strategy, **run) -> dict[str, Any]:
    """Write the run directory (the chief only, in a multi-worker run) and return the metrics."""
    from fpgatag.train.runs import write_run

    if not is_chief(strategy):  # other workers of a multi-worker run write nothing
        out_dir = out_dir.with_name(f".{out_dir.name}.worker-{strategy.cluster_resolver.task_id}")
    with atomic_dir(out_dir) as tmp:
        metrics = write_run(tmp, **run)
    if not is_chief(strategy):
        import shutil

        shutil.rmtree(out_dir, ignore_errors=True)
    return metrics


def train_teacher(data, model: str | None = None, out_dir: str | Path = "runs/teacher", *,
                  mixed_precision: bool = False, seed: int = 0, max_jets: int | None = None,
                  n_particles: int | None = None, stream: bool | None = None, split_salt: int = 0,
                  fractions=DEFAULT_FRACTIONS, command: str | None = None, fold: tuple[int, int] | None = None,
                  init_from: str | Path | None = None, freeze: bool = False, lr_factor: float | None = None,
                  signal: str | None = None, distill_from: str | Path | None = None,
                  logits_file: str | Path | None = None, alpha: float = 0.1, temperature: float = 2.0,
                  **training: Any) -> dict[str, Any]:
    """Train a teacher preset on ``data`` and write its run directory ``out_dir``; return the test metrics.

    ``training`` overrides the preset's training settings by their :class:`TrainingConfig` names
    (``epochs``, ``batch_size``, ``learning_rate``, ``patience``, ``schedule``, ...; ``None`` keeps the
    preset's). ``max_jets`` trains on a random subset of the file (the splits stay uid-keyed);
    ``n_particles`` overrides the preset's number of particles; ``stream`` forces (True) or forbids
    (False) streaming from the file, default: stream when the inputs would take more than
    ``IN_MEMORY_LIMIT`` bytes. ``fold=(i, K)`` leaves the training jets of fold i out of training (folds:
    uid-keyed, see ``fpgatag.core.splits.assign_folds``): K such teachers give out-of-fold soft targets,
    every jet's logits coming from a teacher that never trained on it (``teacher_predict`` with the K run
    directories). ``init_from`` starts from another teacher's run directory (transfer learning,
    ``fpgatag.train.transfer``): its preset (``model=None``) and input spec, all weights fine-tuned at
    ``lr_factor`` x the learning rate (default 0.1), or with ``freeze`` the EdgeConv blocks kept and the
    layers after them retrained (``lr_factor`` default 1). ``signal`` names the class the test split's
    rejections are of (default: the last class). ``distill_from`` (another teacher's run
    directory, its logits stored by ``teacher-predict``, or ``logits_file``) trains on its soft targets
    with the students' distillation loss (``alpha``, ``temperature``; :mod:`fpgatag.train.losses`): a
    chain, e.g. full view -> trigger view -> student; the splits are then the source teacher's.
    """
    import tensorflow as tf

    from fpgatag.train.data import as_source, fit_inputs, make_dataset
    from fpgatag.train.runs import data_record, split_record

    preset, transfer, config, spec = _setup(model, init_from, freeze, lr_factor, n_particles, training)
    source = as_source(data)
    n_classes = len(source.classes)
    signal_index(source.classes, signal, where=str(getattr(source, "path", "data")))   # a bad name fails first
    soft, soft_record = _soft_targets(distill_from, logits_file, alpha, temperature, source, data)
    if soft is not None:
        fractions, split_salt = soft_record.pop("splits")
    if spec.kind == "lund" and source.n_jets:
        source.read(0, 1, keys=["n_lund"])  # a file without Lund trees fails here, naming the group
    strategy, strategy_name = select_strategy()
    tf.keras.utils.set_random_seed(seed)
    uids, labels, chosen, splits, fold_record = _splits(source, max_jets, seed, fractions, split_salt, fold)
    log.info("%s: %d jets, splits train %d / val %d / test %d; strategy %s", preset["name"], chosen.size,
             splits["train"].size, splits["val"].size, splits["test"].size, strategy_name)
    if not transfer:  # a transferred teacher keeps the input scaling its weights were trained with
        fit_inputs(source, spec, splits["train"], seed=seed)
    *datasets, streamed = _datasets(source, spec, splits, config.batch_size, seed, stream, soft)
    final, hist, best, train_seconds = _train(preset, spec, n_classes, config, transfer, strategy, mixed_precision,
                                              datasets, splits["train"].size, None if soft is None else (alpha, temperature))
    probs = final.predict(make_dataset(source, spec, splits["test"], 1024), verbose=0)

    summary = {"best_epoch": best.best_epoch + 1, "train_seconds": round(train_seconds, 3)}
    settings = {"model": preset["name"], "preset": preset, "training": config.to_dict(),
                "epochs_run": len(hist.get("loss", [])), **summary, "seed": seed, "max_jets": max_jets,
                "n_particles": spec.n_objects, "mixed_precision": bool(mixed_precision), "strategy": strategy_name,
                "streamed": streamed, "patience": config.patience, "n_parameters": int(final.count_params()),
                "fold": fold_record, "transfer": _transfer_record(transfer, final), "distilled_from": soft_record}
    extra = {"role": "teacher", "model": preset["name"], **summary, "outputs": "probabilities",
             "distilled_from": None if soft_record is None else soft_record["teacher_dir"],
             "jets_per_second": round(splits["train"].size * len(hist.get("loss", [])) / max(train_seconds, 1e-9), 1)}
    if fold_record is not None:
        extra["fold"] = f"{fold_record['index']}/{fold_record['count']}"
    out_dir = Path(out_dir)
    metrics = _write(out_dir, strategy, name=preset["name"], labels=labels[splits["test"]], probs=probs,
                     classes=source.classes, model=final, inputs=spec, history=hist, settings=settings,
                     splits=split_record(splits, fractions, split_salt, labels), data=data_record(source),
                     uids=uids[splits["test"]], extra_metrics=extra, command=command, signal=signal)
    log.info("%s: test AUC %.4f +- %.4f, accuracy %.4f, %d test jets -> %s", preset["name"], metrics["auc"],
             metrics["auc_err"], metrics["accuracy"], metrics["n_test"], out_dir)
    return metrics
