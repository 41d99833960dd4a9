"""Small helpers for settings objects: dataclasses built from dicts with clear errors."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, ClassVar, TypeVar

from .errors import FpgatagError

T = TypeVar("T")


def from_dict(cls: type[T], data: dict[str, Any] | None, where: str) -> T:
    """Build dataclass ``cls`` from ``data``; unknown or ill-typed keys name ``where`` and the key."""
    data = dict(data or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise FpgatagError(f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(fields)}")
    try:
        return cls(**data)
    except (TypeError, ValueError) as exc:
        raise FpgatagError(f"{where}: {exc}") from None


def to_dict(obj: Any) -> dict[str, Any]:
    return dataclasses.asdict(obj)


class Settings:
    """Mixin of a settings dataclass: ``from_dict`` (errors naming ``WHERE`` or ``where`` and the key) and
    ``to_dict``."""

    WHERE: ClassVar[str] = "settings"

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, where: str | None = None):
        return from_dict(cls, data, where or cls.WHERE)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)


def check_int_in(name: str, value: Any, low: int, high: int) -> None:
    """ValueError unless ``value`` is an integer in ``low..high``."""
    import numpy as np

    if not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in {low}..{high}, got {value!r}")


_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(text: str | None, option: str = "shard", what: str = "shards") -> tuple[int, int]:
    """Parse ``"i/N"`` (0 <= i < N) into ``(i, N)``; ``None`` means the whole job, ``(0, 1)``."""
    if text is None:
        return 0, 1
    m = _SHARD.match(str(text))
    if not m:
        raise FpgatagError(f"{option} {text!r}: expected i/N, for example 0/4")
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 0 <= i < n:
        raise FpgatagError(f"{option} {text}: need 0 <= i < N ({what} are numbered 0..N-1)")
    return i, n
