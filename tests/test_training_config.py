"""One training configuration: names, precedence, deprecated names and refused keys."""

from __future__ import annotations

import logging

import pytest

from fpgatag.core.errors import FpgatagError
from fpgatag.train.config import TrainingConfig


def test_precedence_defaults_preset_arguments():
    c = TrainingConfig.resolve({"epochs": 10, "batch_size": 64, "learning_rate": 1e-3},
                               {"epochs": 20, "patience": 4}, {"epochs": 3, "batch_size": None})
    assert (c.epochs, c.batch_size, c.learning_rate, c.patience) == (3, 64, 1e-3, 4)
    assert c.to_dict()["learning_rate"] == 1e-3 and "lr" not in c.to_dict()


def test_deprecated_names_are_read_with_one_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="fpgatag.train.config"):
        c = TrainingConfig.resolve({}, {"lr": 0.01, "early_stopping": 3}, where="preset old")
    assert c.learning_rate == 0.01 and c.patience == 3
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["preset old: training.lr is deprecated; write training.learning_rate",
                     "preset old: training.early_stopping is deprecated; write training.patience"]


@pytest.mark.parametrize("preset, words", [
    ({"lerning_rate": 0.1}, ("preset p", "training.lerning_rate", "unknown setting")),
    ({"lr": 0.1, "learning_rate": 0.2}, ("training.lr and training.learning_rate",)),
    ({"epochs": 0}, ("training.epochs", "positive integer")),
    ({"batch_size": 2.5}, ("training.batch_size",)),
    ({"learning_rate": float("nan")}, ("training.learning_rate",)),
    ({"patience": -1}, ("training.patience",)),
    ({"optimizer": "sgd"}, ("training.optimizer", "adamw")),
    ({"schedule": "cosine"}, ("training.schedule", "one-cycle")),
])
def test_bad_settings_are_refused_naming_the_key(preset, words):
    with pytest.raises(FpgatagError) as err:
        TrainingConfig.resolve({}, preset, where="preset p")
    assert all(w in str(err.value) for w in words) and "\n" not in str(err.value)


def test_shipped_presets_use_the_one_name_of_each_setting(caplog):
    """No shipped preset needs a deprecated name (no warning on any of them)."""
    from fpgatag.nn.presets import list_presets, load_preset

    with caplog.at_level(logging.WARNING, logger="fpgatag.train.config"):
        for name in list_presets():
            preset = load_preset(name)
            TrainingConfig.resolve({}, preset.get("training"), where=f"preset {name}")
    assert not caplog.records


def _net():
    import tensorflow as tf

    inp = tf.keras.Input((2,))
    net = tf.keras.Model(inp, tf.keras.layers.Dense(1)(inp))
    net.compile(optimizer=tf.keras.optimizers.Adam(1e-3), loss="mse")
    return net


def _run_epochs(cb, net, val_losses):
    import numpy as np

    stopped = None
    for epoch, v in enumerate(val_losses):
        net.set_weights([np.full_like(w, epoch) for w in net.get_weights()])   # weights tell the epoch
        cb.on_epoch_begin(epoch)
        cb.on_epoch_end(epoch, {"loss": v, "val_loss": v})
        if net.stop_training:
            stopped = epoch
            break
    return stopped


def test_best_weights_keeps_the_lowest_val_loss_and_stops_after_patience():
    from fpgatag.train.loop import best_weights

    net = _net()
    cb = best_weights(patience=2)
    cb.set_model(net)
    assert _run_epochs(cb, net, [3.0, 2.0, 2.5, 2.6, 2.7, 1.0]) == 3
    assert cb.best_epoch == 1 and all((w == 1).all() for w in cb.weights)
    assert len(cb.extra["lr"]) == len(cb.extra["seconds"]) == 4 and cb.extra["lr"][0] == pytest.approx(1e-3)


def test_best_weights_ignores_the_epochs_before_start_epoch():
    from fpgatag.train.loop import best_weights

    net = _net()
    cb = best_weights(patience=1, start_epoch=2)
    cb.set_model(net)
    assert _run_epochs(cb, net, [0.1, 0.2, 5.0, 4.0, 4.5]) == 4   # epochs 0 and 1 (pruning ramp) never kept
    assert cb.best_epoch == 3 and all((w == 3).all() for w in cb.weights)


def test_splits_are_checked():
    import numpy as np

    from fpgatag.train.loop import check_splits

    labels = np.array([0, 1, 0, 1])
    with pytest.raises(FpgatagError, match="jets.h5: the val split is empty"):
        check_splits({"train": np.array([0, 1]), "val": np.array([], int), "test": np.array([2, 3])}, labels, 4, "jets.h5")
    with pytest.raises(FpgatagError, match="only one class"):
        check_splits({"train": np.array([0]), "val": np.array([1]), "test": np.array([0, 2])}, labels, 4)


@pytest.mark.parametrize("call, kwargs", [
    ("teacher", {"freeze": True}),
    ("teacher", {"model": "dense-teacher", "lerning_rate": 0.1}),
    ("teacher", {"model": "dense-teacher", "n_particles": 0}),
    ("student", {"freeze": True}),
    ("student", {"epochs": 0}),
])
def test_trainers_refuse_bad_arguments_by_their_names(jets_file, tmp_path, call, kwargs):
    """Library errors name the argument or setting, never a command-line flag; nothing is written."""
    from fpgatag.train.distill import train_student
    from fpgatag.train.teacher import train_teacher

    train = train_teacher if call == "teacher" else train_student
    with pytest.raises(FpgatagError) as err:
        train(jets_file, out_dir=tmp_path / "r", **kwargs)
    msg = str(err.value)
    assert "--" not in msg and all(name in msg for name in kwargs if name != "model"), msg
    assert not (tmp_path / "r").exists()
