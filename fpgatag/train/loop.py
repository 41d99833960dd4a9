"""The training loop that teachers, students and the other trained models share.

:func:`make_splits` and :func:`check_splits` draw the uid-keyed splits of the selected jets and
refuse empty ones; :func:`memory_dataset` batches in-memory arrays; :func:`make_optimizer` builds
the optimizer and learning-rate schedule of a :class:`~fpgatag.train.config.TrainingConfig`; and
:func:`fit` trains with the best-weights callback: the weights of the epoch with the lowest
validation loss are kept, training stops after ``patience`` epochs without a better one, and each
epoch's learning rate and wall time are recorded beside Keras' history.

One-cycle schedule (the ParticleNet paper's, arXiv:1902.08570 sec. 4): linear warm-up from ``lr``
to ``10 * lr`` over the first 40 % of the steps, back down to ``lr`` over the next 40 %, then
annealing to 5e-7 over the last 20 %.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Sequence

import numpy as np

from fpgatag.core.errors import FpgatagError
from fpgatag.core.splits import DEFAULT_FRACTIONS, SPLIT_NAMES, select_jets, split_indices
from fpgatag.train.config import TrainingConfig

log = logging.getLogger(__name__)

FINAL_LR = 5e-7


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


def make_optimizer(config: TrainingConfig, steps_per_epoch: int):
    """The Keras optimizer of ``config`` (its schedule over ``config.epochs`` epochs)."""
    import tensorflow as tf

    lr = float(config.learning_rate)
    rate = one_cycle(lr, steps_per_epoch * config.epochs) if config.schedule == "one-cycle" else lr
    if config.optimizer == "adamw":
        return tf.keras.optimizers.AdamW(learning_rate=rate, weight_decay=float(config.weight_decay))
    if config.optimizer == "adam":
        return tf.keras.optimizers.Adam(learning_rate=rate)
    raise FpgatagError(f"training.optimizer: unknown optimizer {config.optimizer!r}; known: adamw, adam")


def make_splits(source, max_jets: int | None, seed: int, fractions: Sequence[float] = DEFAULT_FRACTIONS,
                salt: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(uids, labels, chosen rows, {split: sorted file rows}) of the uid-keyed splits of the selected jets."""
    uids, labels = np.asarray(source.uids()), np.asarray(source.labels()).astype(int)
    chosen = select_jets(source.n_jets, max_jets, seed)
    parts = split_indices(uids[chosen], fractions, salt)
    return uids, labels, chosen, {k: np.unique(chosen[v]) for k, v in parts.items()}


def check_splits(splits: dict[str, np.ndarray], labels: np.ndarray, n_chosen: int, where: Any = "data") -> None:
    """FpgatagError when a split is empty or the test split holds one class only."""
    for name in SPLIT_NAMES:
        if splits[name].size == 0:
            raise FpgatagError(f"{where or 'data'}: the {name} split is empty ({n_chosen} jets); use more jets")
    if np.unique(labels[splits["test"]]).size < 2:
        raise FpgatagError("the test split holds only one class; use more jets")


def memory_dataset(x, y, batch_size: int, shuffle: bool, seed: int):
    """A ``tf.data.Dataset`` of ``(x, y)`` batches of in-memory arrays (reshuffled each epoch)."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def best_weights(patience: int = 0, start_epoch: int = 0, epochs: int | None = None, desc: str = "train"):
    """The callback that keeps the weights of the epoch with the lowest ``val_loss``.

    ``patience`` (0: never) stops after that many epochs without a lower one. Epochs before
    ``start_epoch`` (a pruning schedule still ramping up) are neither kept nor counted. Its
    ``extra`` holds each epoch's learning rate and seconds, ``best_epoch`` the kept epoch (0-based).
    """
    import tensorflow as tf

    from fpgatag.core.logs import progress

    class BestWeights(tf.keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.best, self.best_epoch, self.weights = math.inf, -1, None
            self.extra: dict[str, list[float]] = {"lr": [], "seconds": []}
            self.bar = progress(total=epochs, desc=desc, unit="epoch")

        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            if "val_loss" not in logs:
                raise RuntimeError(f"no val_loss in the epoch logs ({sorted(logs)})")
            self.extra["lr"].append(_current_lr(self.model.optimizer))
            self.extra["seconds"].append(time.perf_counter() - self._t0)
            self.bar.update(1)
            if epoch < start_epoch:
                log.info("epoch %d: loss %.4f val_loss %.4f (pruning, %.1f s)", epoch + 1,
                         logs.get("loss", math.nan), logs["val_loss"], self.extra["seconds"][-1])
                return
            if logs["val_loss"] < self.best:
                self.best, self.best_epoch, self.weights = float(logs["val_loss"]), epoch, self.model.get_weights()
            log.info("epoch %d: loss %.4f acc %.4f val_loss %.4f val_acc %.4f lr %.2e (%.1f s)%s", epoch + 1,
                     logs.get("loss", math.nan), logs.get("accuracy", math.nan), logs["val_loss"],
                     logs.get("val_accuracy", math.nan), self.extra["lr"][-1], self.extra["seconds"][-1],
                     " *best*" if self.best_epoch == epoch else "")
            if patience and epoch - max(self.best_epoch, start_epoch - 1) >= patience:
                self.model.stop_training = True

        def on_train_end(self, logs=None):
            self.bar.close()

    return BestWeights()


def _current_lr(optimizer) -> float:
    import tensorflow as tf

    lr = optimizer.learning_rate
    return float(lr(optimizer.iterations)) if callable(lr) else float(tf.keras.backend.get_value(lr))


def fit(net, train_ds, val_ds, config: TrainingConfig, *, start_epoch: int = 0, first_callbacks: Sequence = (),
        desc: str = "train"):
    """Train the compiled ``net``; return (history dict with ``lr`` and ``seconds``, best-weights callback, seconds).

    ``first_callbacks`` run before the best-weights callback (a pruning step, so that the kept
    weights are already masked). The best epoch's weights are *not* set on ``net``: the caller
    decides where they go (``callback.weights``, None when no epoch counted)."""
    import tensorflow as tf

    best = best_weights(config.patience, start_epoch, config.epochs, desc)
    t0 = time.perf_counter()
    history = net.fit(train_ds, validation_data=val_ds, epochs=config.epochs, verbose=0,
                      callbacks=[*first_callbacks, best, tf.keras.callbacks.TerminateOnNaN()])
    seconds = time.perf_counter() - t0
    hist = {**{k: [float(v) for v in vals] for k, vals in history.history.items()}, **best.extra}
    return hist, best, seconds
