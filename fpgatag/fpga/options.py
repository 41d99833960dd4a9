"""The options of every firmware command (``synth``, ``validate``, the estimator): one object.

:class:`FirmwareOptions` holds the part, backend, I/O type, reuse factor, strategy, clock period,
input precision, recurrent implementation and an hls4ml configuration to merge over fpgatag's
defaults. :meth:`FirmwareOptions.checked` spells them as hls4ml spells them and refuses bad values
with one line naming the option.

Spellings: the backend ``Vitis`` or ``Vivado`` (any case); the strategy ``Latency``, ``Resource``
or ``distributed_arithmetic`` (any case; ``da`` for short); the part a short name
(:data:`DEFAULT_PART`, see :mod:`fpgatag.fpga.parts`) or a full part string.

``hls_config`` is hls4ml's own idiom, a dict keyed like ``hls4ml.utils.config_from_keras_model``'s
output: ``{"Model": {...}, "LayerName": {"<layer>": {...}}}``, optionally wrapped as in an hls4ml
YAML project file (``{"HLSConfig": {...}, "Backend": ..., "Part": ..., "ClockPeriod": ...,
"IOType": ...}``, the outer keys then setting those options). It is merged over fpgatag's
configuration (its precision rules included), so the given keys win. ``Model.Strategy`` and
``Model.ReuseFactor`` set the options of the same names (every layer's, unless it gives its own). A layer
name the model does not have is refused by name (:func:`merge_hls_config`).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path
from typing import Any, Mapping

from fpgatag.core.errors import FpgatagError
from fpgatag.fpga.parts import DEFAULT_PART, Part, resolve_part

BACKENDS = {"vitis": "Vitis", "vivado": "Vivado"}
STRATEGIES = {"latency": "Latency", "resource": "Resource", "da": "distributed_arithmetic",
              "distributed_arithmetic": "distributed_arithmetic"}
IO_TYPES = ("io_parallel", "io_stream")
DEFAULT_CLOCK_PERIOD = 5.0   # ns: 200 MHz, the Level-1 trigger's usual clock
HLS_SECTIONS = ("Model", "LayerName")
PROJECT_KEYS = {"Backend": "backend", "Part": "part", "ClockPeriod": "clock_period", "IOType": "io_type"}

__all__ = ["DEFAULT_PART", "DEFAULT_CLOCK_PERIOD", "FirmwareOptions", "backend_name", "strategy_name",
           "read_hls_config", "merge_hls_config"]


def backend_name(text: str) -> str:
    """``vitis``/``Vitis``/``VITIS`` -> ``Vitis`` (hls4ml's spelling); FpgatagError otherwise."""
    name = BACKENDS.get(str(text).strip().lower())
    if name is None:
        raise FpgatagError(f"backend: unknown backend {text!r}; known: {', '.join(BACKENDS.values())}")
    return name


def strategy_name(text: str) -> str:
    """``latency``/``Latency`` -> ``Latency``, ``da`` -> ``distributed_arithmetic``; FpgatagError otherwise."""
    name = STRATEGIES.get(str(text).strip().lower())
    if name is None:
        raise FpgatagError(f"strategy: unknown strategy {text!r}; known: Latency, Resource, distributed_arithmetic (da)")
    return name


@dataclasses.dataclass
class FirmwareOptions:
    """How a model becomes firmware (every field checked by :meth:`checked`)."""

    part: str = DEFAULT_PART
    backend: str = "Vitis"
    io_type: str = "io_parallel"
    reuse_factor: int = 1
    strategy: str = "Latency"
    clock_period: float = DEFAULT_CLOCK_PERIOD
    input_precision: tuple[int, int] | None = None   # (bits, integer bits); None: the model's inputs.json
    recurrent_static: bool = True
    hls_config: Mapping[str, Any] | None = None

    @classmethod
    def make(cls, options: "FirmwareOptions | None" = None, **overrides: Any) -> "FirmwareOptions":
        """``options`` (or the defaults) with ``overrides`` (field names; ``None`` values ignored), checked."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise FpgatagError(f"firmware options: unknown option {unknown[0]!r}; known: {', '.join(sorted(names))}")
        base = options if options is not None else cls()
        return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None}).checked()

    def checked(self) -> "FirmwareOptions":
        """A copy spelled as hls4ml spells it, the hls4ml project keys of ``hls_config`` applied."""
        opts = dataclasses.replace(self)
        if opts.hls_config is not None:
            opts = _apply_project_keys(opts)
        opts.backend, opts.strategy = backend_name(opts.backend), strategy_name(opts.strategy)
        if opts.io_type not in IO_TYPES:
            raise FpgatagError(f"io_type: unknown {opts.io_type!r}; known: {', '.join(IO_TYPES)}")
        if isinstance(opts.reuse_factor, bool) or int(opts.reuse_factor) != opts.reuse_factor or opts.reuse_factor < 1:
            raise FpgatagError(f"reuse_factor: must be an integer >= 1, got {opts.reuse_factor!r}")
        opts.reuse_factor = int(opts.reuse_factor)
        if not isinstance(opts.clock_period, (int, float)) or not math.isfinite(opts.clock_period) or opts.clock_period <= 0:
            raise FpgatagError(f"clock_period: must be > 0 ns, got {opts.clock_period!r}")
        opts.clock_period = float(opts.clock_period)
        if opts.input_precision is not None:
            bits, integer = (int(v) for v in opts.input_precision)
            if not 1 <= bits <= 64:
                raise FpgatagError(f"input_precision: ap_fixed<{bits},{integer}> needs 1 to 64 bits")
            opts.input_precision = (bits, integer)
        resolve_part(opts.part)   # an unknown short name is refused with the known ones
        return opts

    @property
    def target(self) -> Part:
        """The :class:`~fpgatag.fpga.parts.Part` (full string and resource totals)."""
        return resolve_part(self.part)

    def record(self) -> dict[str, Any]:
        """What provenance records (the full part string, hls4ml's spellings)."""
        return {"part": self.target.full, "backend": self.backend, "io_type": self.io_type,
                "strategy": self.strategy, "reuse_factor": self.reuse_factor, "clock_period": self.clock_period,
                **({"hls_config": copy.deepcopy(dict(self.hls_config))} if self.hls_config else {})}


def _apply_project_keys(opts: FirmwareOptions) -> FirmwareOptions:
    """Unwrap an hls4ml project dict (``HLSConfig`` + Backend/Part/ClockPeriod/IOType) and lift
    ``Model.Strategy``/``Model.ReuseFactor`` into the options."""
    cfg = dict(opts.hls_config or {})
    if "HLSConfig" in cfg:
        for key, field in PROJECT_KEYS.items():
            if key in cfg:
                setattr(opts, field, cfg.pop(key))
        inner = cfg.pop("HLSConfig")
        rest = sorted(k for k in cfg if k not in ("OutputDir", "ProjectName", "KerasModel", "KerasJson", "KerasH5"))
        if rest:
            raise FpgatagError(f"hls_config: unknown key {rest[0]!r} beside HLSConfig; known: {', '.join(PROJECT_KEYS)}")
        cfg = dict(inner or {})
    unknown = sorted(set(cfg) - set(HLS_SECTIONS))
    if unknown:
        raise FpgatagError(f"hls_config: unknown section {unknown[0]!r}; known: {', '.join(HLS_SECTIONS)}")
    for section in HLS_SECTIONS:
        if section in cfg and not isinstance(cfg[section], Mapping):
            raise FpgatagError(f"hls_config: {section} must be a mapping, got {type(cfg[section]).__name__}")
    model = dict(cfg.get("Model") or {})
    if "Strategy" in model:
        opts.strategy = model["Strategy"] = strategy_name(model["Strategy"])
    if "ReuseFactor" in model:
        opts.reuse_factor = model["ReuseFactor"]
    layers = {}
    for name, layer in (cfg.get("LayerName") or {}).items():
        if not isinstance(layer, Mapping):
            raise FpgatagError(f"hls_config: LayerName.{name} must be a mapping, got {type(layer).__name__}")
        layer = dict(layer)
        if "Strategy" in layer:
            layer["Strategy"] = strategy_name(layer["Strategy"])
        layers[str(name)] = layer
    opts.hls_config = {**({"Model": model} if model else {}), **({"LayerName": layers} if layers else {})}
    return opts


def read_hls_config(path: str | Path) -> dict[str, Any]:
    """An hls4ml configuration file (JSON, or YAML with ``.yml``/``.yaml``) as a dict."""
    import json

    path = Path(path)
    if not path.is_file():
        raise FpgatagError(f"{path}: hls4ml config file not found")
    text = path.read_text()
    try:
        if path.suffix.lower() in (".yml", ".yaml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:   # json.JSONDecodeError, yaml.YAMLError
        raise FpgatagError(f"{path}: not a valid {'YAML' if path.suffix.lower() in ('.yml', '.yaml') else 'JSON'} "
                           f"file ({' '.join(str(exc).split())})") from None
    if not isinstance(data, dict):
        raise FpgatagError(f"{path}: an hls4ml config is a mapping ({{'Model': ..., 'LayerName': ...}}), "
                           f"got {type(data).__name__}")
    return data


def merge_hls_config(base: dict[str, Any], overrides: Mapping[str, Any] | None, where: str = "hls_config") -> dict[str, Any]:
    """``base`` (fpgatag's hls4ml config, changed in place and returned) with ``overrides`` merged over it.

    Mappings merge key by key (``Precision`` entries one by one), other values replace. A layer in
    ``overrides["LayerName"]`` that ``base`` does not know is refused by name."""
    if not overrides:
        return base
    known = base.setdefault("LayerName", {})
    unknown = [name for name in (overrides.get("LayerName") or {}) if name not in known]
    if unknown:
        raise FpgatagError(f"{where}: LayerName {unknown[0]!r}: the model has no such layer; "
                           f"its layers: {', '.join(known)}")
    _deep_merge(base, overrides)
    return base


def _deep_merge(base: dict, over: Mapping) -> None:
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
