"""Training a teacher (ParticleNet, ParticleNet-Lite or the dense teacher) on the full-resolution view.

Recipe (the paper's, arXiv:1902.08570 sec. 4): AdamW (Adam with decoupled weight decay 1e-4) and a
one-cycle learning rate: linear warm-up from ``lr`` to ``10 * lr`` over the first 40 % of the steps,
back down to ``lr`` over the next 40 %, then annealing to 5e-7 over the last 20 % (the paper's 8 + 8
+ 4 of 20 epochs with lr = 3e-4, batch 384). Presets may choose ``"schedule": "constant"``.

The weights of the epoch with the lowest validation loss are kept (``early_stopping=N`` also stops
after N epochs without improvement). Splits are uid-keyed (``fpgatag.core.splits``) and recorded in
run.json with their salt, fractions and counts, so students are scored on the same test jets.

Devices: ``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` is set, ``MirroredStrategy`` with more
than one GPU, TensorFlow's default strategy otherwise (one GPU, or the CPU); the run directory is the
same in every case. ``mixed_precision`` trains in float16 with float32 logits and softmax; the saved
model is always float32.
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from fpgatag.core.errors import FpgatagError
from fpgatag.core.io import atomic_dir
from fpgatag.core.splits import DEFAULT_FRACTIONS, assign_folds, select_jets, split_indices
from fpgatag.nn.inputs import InputSpec
from fpgatag.nn.presets import get_builder, load_preset

log = logging.getLogger(__name__)

DEFAULT_TRAINING = {
    "optimizer": "adamw",
    "lr": 3e-4,
    "weight_decay": 1e-4,
    "schedule": "one-cycle",
    "batch_size": 384,
    "epochs": 20,
}
SCHEDULES = ("one-cycle", "constant")
FINAL_LR = 5e-7
# Train from memory when the prepared train + validation inputs take less than this (bytes).
IN_MEMORY_LIMIT = int(float(os.environ.get("FPGATAG_IN_MEMORY_MB", "1024")) * 2**20)


def one_cycle(base_lr: float, total_steps: int, peak_factor: float = 10.0, final_lr: float = FINAL_LR):
    """The one-cycle schedule as a Keras ``LearningRateSchedule`` (of training step)."""
    import tensorflow as tf

    class OneCycle(tf.keras.optimizers.schedules.LearningRateSchedule):
        def __init__(self, base_lr, total_steps, peak_factor=10.0, final_lr=FINAL_LR):
            self.base_lr, self.total_steps = float(base_lr), int(total_steps)
            self.peak_factor, self.final_lr = float(peak_factor), float(final_lr)

        def __call__(self, step):
            t = tf.cast(step, tf.float32) / float(max(self.total_steps, 1))
            lo, hi, end = self.base_lr, self.base_lr * self.peak_factor, self.final_lr
            up = lo + (hi - lo) * t / 0.4
            down = hi - (hi - lo) * (t - 0.4) / 0.4
            anneal = lo + (end - lo) * tf.minimum((t - 0.8) / 0.2, 1.0)
            return tf.where(t < 0.4, up, tf.where(t < 0.8, down, anneal))

        def get_config(self):
            return {"base_lr": self.base_lr, "total_steps": self.total_steps,
                    "peak_factor": self.peak_factor, "final_lr": self.final_lr}

    return OneCycle(base_lr, total_steps, peak_factor, final_lr)


def select_strategy():
    """(strategy, description): multi-worker with TF_CONFIG, mirrored with >1 GPU, else default."""
    import tensorflow as tf

    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy(), "multi-worker-mirrored"
    gpus = tf.config.list_physical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy(), f"mirrored ({len(gpus)} GPUs)"
    return tf.distribute.get_strategy(), "default (1 GPU)" if gpus else "default (CPU)"


def _is_chief(strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0
                                             and "chief" not in resolver.cluster_spec().as_dict())


def make_optimizer(training: dict[str, Any], steps_per_epoch: int, epochs: int):
    import tensorflow as tf

    lr = float(training["lr"])
    schedule = training.get("schedule", "one-cycle")
    if schedule not in SCHEDULES:
        raise FpgatagError(f"training.schedule: unknown schedule {schedule!r}; known: {', '.join(SCHEDULES)}")
    rate = one_cycle(lr, steps_per_epoch * epochs) if schedule == "one-cycle" else lr
    name = training.get("optimizer", "adamw")
    if name == "adamw":
        return tf.keras.optimizers.AdamW(learning_rate=rate, weight_decay=float(training.get("weight_decay", 1e-4)))
    if name == "adam":
        return tf.keras.optimizers.Adam(learning_rate=rate)
    raise FpgatagError(f"training.optimizer: unknown optimizer {name!r}; known: adamw, adam")


def _callbacks(early_stopping: int | None):
    import tensorflow as tf

    class BestWeights(tf.keras.callbacks.Callback):
        """Keep the weights of the epoch with the lowest val_loss; log each epoch; record lr and time."""

        def __init__(self):
            super().__init__()
            self.best, self.best_epoch, self.weights = math.inf, -1, None
            self.extra: dict[str, list[float]] = {"lr": [], "seconds": []}

        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            if "val_loss" not in logs:
                raise RuntimeError(f"no val_loss in the epoch logs ({sorted(logs)})")
            opt = self.model.optimizer
            lr = opt.learning_rate
            lr = float(lr(opt.iterations)) if callable(lr) else float(tf.keras.backend.get_value(lr))
            self.extra["lr"].append(lr)
            self.extra["seconds"].append(time.perf_counter() - self._t0)
            if logs["val_loss"] < self.best:
                self.best, self.best_epoch, self.weights = float(logs["val_loss"]), epoch, self.model.get_weights()
            log.info("epoch %d: loss %.4f acc %.4f val_loss %.4f val_acc %.4f lr %.2e (%.1f s)%s",
                     epoch + 1, logs.get("loss", math.nan), logs.get("accuracy", math.nan), logs["val_loss"],
                     logs.get("val_accuracy", math.nan), lr, self.extra["seconds"][-1],
                     " *best*" if self.best_epoch == epoch else "")

    best = BestWeights()
    cbs = [best, tf.keras.callbacks.TerminateOnNaN()]
    if early_stopping:
        cbs.append(tf.keras.callbacks.EarlyStopping(monitor="val_loss", patience=int(early_stopping)))
    return best, cbs


def _memory_dataset(x, y, batch_size, shuffle, seed):
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)



def _transfer_source(init_from, model, freeze, lr_factor) -> dict[str, Any] | None:
    """The source of a transferred teacher (None without ``init_from``), checked before any work."""
    if init_from is None:
        if freeze or lr_factor is not None:
            raise FpgatagError("--freeze and --lr-factor need --init-from DIR (the source teacher)")
        return None
    from fpgatag.train.transfer import DEFAULT_LR_FACTOR, source_record

    src = source_record(init_from)
    if model is not None and load_preset(model, role="teacher")["name"] != src["preset"].get("name"):
        raise FpgatagError(f"--model {model}: the source teacher {init_from} is a {src['preset'].get('name')}; "
                           "transfer needs the same preset (leave --model out)")
    method = "freeze" if freeze else "fine-tune"
    factor = DEFAULT_LR_FACTOR[method] if lr_factor is None else float(lr_factor)
    if not factor > 0:
        raise FpgatagError(f"--lr-factor must be > 0, got {lr_factor}")
    return {**src, "method": method, "lr_factor": factor, "frozen": []}


def _start_from_source(net, transfer: dict[str, Any]) -> list[str]:
    """Load the source teacher's weights into ``net`` and freeze its EdgeConv blocks if asked."""
    from fpgatag.nn.io import load_model
    from fpgatag.train.transfer import copy_weights, freeze

    copy_weights(load_model(transfer["dir"]), net, f"--init-from {transfer['dir']}")
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


def train_teacher(data, model: str | None = None, epochs: int | None = None, batch_size: int | None = None,
                  out_dir: str | Path = "runs/teacher", lr: float | None = None, early_stopping: int | None = None,
                  mixed_precision: bool = False, seed: int = 0, max_jets: int | None = None,
                  n_particles: int | None = None, schedule: str | None = None, stream: bool | None = None,
                  split_salt: int = 0, fractions=DEFAULT_FRACTIONS, command: str | None = None,
                  fold: tuple[int, int] | None = None, init_from: str | Path | None = None,
                  freeze: bool = False, lr_factor: float | None = None) -> dict[str, Any]:
    """Train a teacher preset on ``data`` and write its run directory ``out_dir``; return the test metrics.

    ``max_jets`` trains on a random subset of the file (the splits stay uid-keyed); ``n_particles``
    overrides the preset's number of particles; ``stream`` forces (True) or forbids (False) streaming
    from the file, default: stream when the inputs would take more than ``IN_MEMORY_LIMIT`` bytes.
    ``fold=(i, K)`` leaves the training jets of fold i out of training (folds: uid-keyed, see
    ``fpgatag.core.splits.assign_folds``): K such teachers give out-of-fold soft targets, every jet's
    logits coming from a teacher that never trained on it (``teacher_predict`` with the K run directories).
    ``init_from`` starts from another teacher's run directory (transfer learning, ``fpgatag.train.transfer``):
    its preset (``model=None``) and input spec, all weights fine-tuned at ``lr_factor`` x the learning rate
    (default 0.1), or with ``freeze`` the EdgeConv blocks kept and the layers after them retrained
    (``lr_factor`` default 1).
    """
    import tensorflow as tf

    from fpgatag.train.data import as_source, fit_inputs, input_bytes, load_arrays, make_dataset
    from fpgatag.train.runs import data_record, split_record, write_run

    transfer = _transfer_source(init_from, model, freeze, lr_factor)
    preset = transfer["preset"] if transfer else load_preset(model or "particlenet-lite", role="teacher")
    training = {**DEFAULT_TRAINING, **preset.get("training", {})}
    for key, value in (("epochs", epochs), ("batch_size", batch_size), ("lr", lr), ("schedule", schedule)):
        if value is not None:
            training[key] = value
    if transfer:
        training["lr"] = float(training["lr"]) * transfer["lr_factor"]
    epochs, batch_size = int(training["epochs"]), int(training["batch_size"])
    if epochs < 1 or batch_size < 1:
        raise FpgatagError(f"epochs and batch size must be positive (got {epochs}, {batch_size})")
    source = as_source(data)
    spec = InputSpec.from_dict(transfer["inputs"] if transfer else preset["inputs"],
                               where=f"preset {preset['name']}: inputs")
    if n_particles is not None:
        if n_particles < 1:
            raise FpgatagError(f"--n-particles must be positive, got {n_particles}")
        spec.n_objects = int(n_particles)
    n_classes = len(source.classes)
    if spec.kind == "lund" and source.n_jets:
        source.read(0, 1, keys=["n_lund"])  # a file without Lund trees fails here, naming the group

    from fpgatag.train import distribute

    strategy, strategy_name = distribute.strategy()
    tf.keras.utils.set_random_seed(seed)

    # uid-keyed splits of the selected jets
    uids, labels = np.asarray(source.uids()), np.asarray(source.labels()).astype(int)
    chosen = select_jets(source.n_jets, max_jets, seed)
    parts = split_indices(uids[chosen], fractions, split_salt)
    splits = {k: chosen[v] for k, v in parts.items()}
    fold_record = None
    if fold is not None:
        k_index, k_count = int(fold[0]), int(fold[1])
        if k_count < 2 or not 0 <= k_index < k_count:
            raise FpgatagError(f"--fold {k_index}/{k_count}: need K >= 2 folds and 0 <= i < K")
        in_fold = assign_folds(uids[splits["train"]], k_count, split_salt) == k_index
        fold_record = {"index": k_index, "count": k_count, "salt": int(split_salt),
                       "held_out_train_jets": int(in_fold.sum())}
        splits["train"] = splits["train"][~in_fold]
        log.info("fold %d/%d: %d training jets of this fold left out", k_index, k_count, int(in_fold.sum()))
    for name in ("train", "val", "test"):
        if splits[name].size == 0:
            raise FpgatagError(f"{getattr(source, 'path', 'data')}: the {name} split is empty "
                               f"({chosen.size} jets); use more jets")
    if np.unique(labels[splits["test"]]).size < 2:
        raise FpgatagError("the test split holds only one class; use more jets")
    log.info("%s: %d jets, splits train %d / val %d / test %d; strategy %s", preset["name"], chosen.size,
             splits["train"].size, splits["val"].size, splits["test"].size, strategy_name)

    if not transfer:  # a transferred teacher keeps the input scaling its weights were trained with
        fit_inputs(source, spec, splits["train"], seed=seed)
    if stream is None:
        stream = input_bytes(spec, splits["train"].size + splits["val"].size) > IN_MEMORY_LIMIT
    if stream:
        train_ds = make_dataset(source, spec, splits["train"], batch_size, shuffle=True, seed=seed)
        val_ds = make_dataset(source, spec, splits["val"], batch_size)
    else:
        train_ds = _memory_dataset(*load_arrays(source, spec, splits["train"]), batch_size, True, seed)
        val_ds = _memory_dataset(*load_arrays(source, spec, splits["val"]), batch_size, False, seed)
    steps = math.ceil(splits["train"].size / batch_size)

    build = get_builder(preset["builder"])
    policy = "mixed_float16" if mixed_precision else "float32"
    previous = tf.keras.mixed_precision.global_policy()
    tf.keras.mixed_precision.set_global_policy(policy)
    try:
        with strategy.scope():
            net = build(spec.shape, n_classes, **preset["params"])
            if transfer:
                transfer["frozen"] = _start_from_source(net, transfer)
            net.compile(optimizer=make_optimizer(training, steps, epochs),
                        loss=tf.keras.losses.SparseCategoricalCrossentropy(),
                        metrics=["accuracy"])
        best, callbacks = _callbacks(early_stopping)
        t0 = time.perf_counter()
        with distribute.failures():
            history = net.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=callbacks, verbose=0)
        train_seconds = time.perf_counter() - t0
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

    test_ds = make_dataset(source, spec, splits["test"], 1024)
    probs = final.predict(test_ds, verbose=0)
    test_labels = labels[np.unique(splits["test"])]

    hist = {**{k: [float(v) for v in vals] for k, vals in history.history.items()}, **best.extra}
    settings = {"model": preset["name"], "preset": preset, "training": training, "epochs_run": len(hist.get("loss", [])),
                "best_epoch": best.best_epoch + 1, "seed": seed, "max_jets": max_jets, "n_particles": spec.n_objects,
                "mixed_precision": bool(mixed_precision), "strategy": strategy_name, "streamed": bool(stream),
                "early_stopping": early_stopping, "train_seconds": round(train_seconds, 3),
                "n_parameters": int(final.count_params()), "fold": fold_record,
                "transfer": _transfer_record(transfer, final)}
    extra = {"role": "teacher", "model": preset["name"], "best_epoch": best.best_epoch + 1,
             "train_seconds": round(train_seconds, 3),
             "jets_per_second": round(splits["train"].size * len(hist.get("loss", [])) / max(train_seconds, 1e-9), 1)}
    if fold_record is not None:
        extra["fold"] = f"{fold_record['index']}/{fold_record['count']}"
    out_dir = Path(out_dir)
    if not _is_chief(strategy):  # other workers of a multi-worker run write nothing
        out_dir = out_dir.with_name(f".{out_dir.name}.worker-{strategy.cluster_resolver.task_id}")
    with atomic_dir(out_dir) as tmp:
        metrics = write_run(tmp, name=preset["name"], labels=test_labels, probs=probs, classes=source.classes,
                            model=final, inputs=spec, history=hist, settings=settings,
                            splits=split_record(splits, fractions, split_salt, labels),
                            data=data_record(source),
                            uids=uids[np.unique(splits["test"])],
                            extra_metrics=extra, command=command)
    if not _is_chief(strategy):
        import shutil

        shutil.rmtree(out_dir, ignore_errors=True)
    log.info("%s: test AUC %.4f +- %.4f, accuracy %.4f, %d test jets -> %s", preset["name"], metrics["auc"],
             metrics["auc_err"], metrics["accuracy"], metrics["n_test"], out_dir)
    return metrics
