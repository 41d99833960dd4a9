"""One training configuration for every model fpgatag trains (teachers, students, autoencoders).

A preset's ``training`` dict, the role's defaults and the caller's overrides (command-line options,
keyword arguments) are merged, in that order of precedence from lowest to highest, into one
:class:`TrainingConfig`. Every setting has one name:

===================  ==========================================================================
``epochs``           passes over the training split
``batch_size``       jets per step
``learning_rate``    the (base) learning rate of the optimizer
``patience``         stop after this many epochs without a lower validation loss (0: never)
``optimizer``        ``adam`` or ``adamw``
``weight_decay``     AdamW's decoupled weight decay
``schedule``         ``constant`` or ``one-cycle`` (see :func:`fpgatag.train.loop.one_cycle`)
``sparsity``         magnitude-pruning target (fraction of zero weights; students)
``pruning_epochs``   epochs over which the sparsity ramps up (students; default min(30, epochs // 3))
``train_on``         the class an autoencoder is trained on, or ``all``
===================  ==========================================================================

Two earlier names are still read in preset ``training`` dicts, each with a one-line deprecation
warning: ``lr`` (now ``learning_rate``) and ``early_stopping`` (now ``patience``). Any other unknown
key is refused with an error naming it, so a typo is never silently ignored.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any, Mapping

from fpgatag.core.errors import FpgatagError

log = logging.getLogger(__name__)

OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("constant", "one-cycle")
DEPRECATED_NAMES = {"lr": "learning_rate", "early_stopping": "patience"}


@dataclasses.dataclass
class TrainingConfig:
    """The settings of one training (see the module docstring for each one)."""

    epochs: int = 20
    batch_size: int = 256
    learning_rate: float = 1e-3
    patience: int = 0
    optimizer: str = "adam"
    weight_decay: float = 0.0
    schedule: str = "constant"
    sparsity: float = 0.0
    pruning_epochs: int | None = None
    train_on: str | None = None

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def resolve(cls, defaults: Mapping[str, Any], preset: Mapping[str, Any] | None = None,
                overrides: Mapping[str, Any] | None = None, where: str = "preset") -> "TrainingConfig":
        """``defaults`` < ``preset`` (a preset's ``training`` dict) < ``overrides`` (``None`` values ignored).

        ``where`` names the preset in errors (``preset deepsets: training.lerning_rate: ...``)."""
        merged: dict[str, Any] = dict(canonical(defaults, "defaults"))
        merged.update(canonical(preset or {}, where))
        merged.update(canonical({k: v for k, v in (overrides or {}).items() if v is not None}, "arguments"))
        config = cls(**merged)
        config.check(where)
        return config

    def check(self, where: str = "training") -> None:
        """FpgatagError naming the first setting out of range."""
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or int(value) != value or int(value) < 1:
                raise FpgatagError(f"{where}: training.{name} must be a positive integer, got {value!r}")
            setattr(self, name, int(value))
        if not _finite(self.learning_rate) or self.learning_rate <= 0:
            raise FpgatagError(f"{where}: training.learning_rate must be > 0, got {self.learning_rate!r}")
        if not isinstance(self.patience, (int, float)) or int(self.patience) != self.patience or self.patience < 0:
            raise FpgatagError(f"{where}: training.patience must be a non-negative integer, got {self.patience!r}")
        self.patience = int(self.patience)
        if self.optimizer not in OPTIMIZERS:
            raise FpgatagError(f"{where}: training.optimizer: unknown optimizer {self.optimizer!r}; "
                               f"known: {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise FpgatagError(f"{where}: training.schedule: unknown schedule {self.schedule!r}; "
                               f"known: {', '.join(SCHEDULES)}")
        if not _finite(self.weight_decay) or self.weight_decay < 0:
            raise FpgatagError(f"{where}: training.weight_decay must be >= 0, got {self.weight_decay!r}")

    def to_dict(self) -> dict[str, Any]:
        """The settings as run.json records them."""
        return dataclasses.asdict(self)


def canonical(training: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``training`` with the deprecated names replaced (one warning each); unknown keys refused."""
    known = TrainingConfig.names()
    out: dict[str, Any] = {}
    for key, value in training.items():
        name = DEPRECATED_NAMES.get(key, key)
        if name != key:
            log.warning("%s: training.%s is deprecated; write training.%s", where, key, name)
            if name in training:
                raise FpgatagError(f"{where}: training.{key} and training.{name} are the same setting; keep {name}")
        elif key not in known:
            raise FpgatagError(f"{where}: training.{key}: unknown setting; known: {', '.join(known)}")
        out[name] = value
    return out


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
