"""What a model sees: an :class:`InputSpec` turns a schema batch into the model's input array.

The spec is saved with every model (``inputs.json``), and the same object prepares the inputs for
training, for evaluation and for the firmware's C simulation, so the firmware can never run a
different preprocessing than the one used in training.

Preprocessing is ``x' = (x - offset) * scale`` per feature. For quantized students the scales are
powers of two (a shift in firmware) and the result is rounded and saturated to the input precision
``ap_fixed<input_bits, input_integer_bits>`` (the integer bits count the sign bit, as in ap_fixed;
the names keep the inputs' precision apart from the network's own weight width): the Keras
model and the HLS model then receive bit-identical inputs. Padded objects are all-zero rows after
preprocessing (offset is applied to real objects only).

Two kinds read the Level-1 benchmark's inputs in the hls4ml LHC jet dataset's own terms (batch keys
of ``fpgatag.data.hls4ml``, stored in group ``/hls4ml`` of a native file or read from a public
hls4ml file): ``hls4ml_constituents`` takes the first ``n_objects`` (pT ordered) constituents with
features named as the dataset names them (``j1_pt, j1_etarel, j1_phirel`` from ``constituents_3``;
any other of the 16 from ``constituents_16``), ``hls4ml_jet`` the 16 jet-level features
(``jet_features``). They are scaled and quantized as every other kind; for quantized inputs the
power-of-two scale is further halved until the 99.9th percentile of ``|x|`` on the training jets
fits the input range, so a heavy tail (constituent pT in GeV, the multiplicity, D2) saturates on at
most 0.1 % of the training values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from fpgatag.core.config import from_dict
from fpgatag.core.errors import FpgatagError

OLD_NAMES = {"bits": "input_bits", "integer_bits": "input_integer_bits"}  # the names in older inputs.json files
KINDS = ("particles", "trigger", "jet", "flat_particles", "flat_trigger", "lund", "jet_kin",  # jet_kin: stored jet four-vector
         "hls4ml_constituents", "hls4ml_jet")   # the hls4ml LHC jet dataset's own inputs (group /hls4ml)
HLS4ML_KINDS = ("hls4ml_constituents", "hls4ml_jet")
TAIL_QUANTILE = 99.9   # hls4ml kinds, quantized: this percentile of |x| fits the input range after scaling


def quantize_fixed(x: np.ndarray, bits: int, integer_bits: int) -> np.ndarray:
    """Round to nearest on the ``ap_fixed<bits, integer_bits>`` grid and saturate (AP_RND_CONV-like
    ties are not needed: inputs rounded here are then exactly representable, so the firmware's own
    truncation of them is exact)."""
    frac = bits - integer_bits
    step = 2.0 ** (-frac)
    lo = -(2.0 ** (integer_bits - 1))
    hi = 2.0 ** (integer_bits - 1) - step
    return np.clip(np.round(np.asarray(x, dtype=np.float64) / step) * step, lo, hi).astype(np.float32)


@dataclass
class InputSpec:
    kind: str
    features: list[str]
    view: str = "candidates"          # trigger kinds: "candidates" or "towers"
    n_objects: int = 16               # particles/trigger kinds: objects kept (zero padded)
    offset: list[float] | None = None
    scale: list[float] | None = None
    input_bits: int | None = None     # input precision ap_fixed<input_bits, input_integer_bits>; None = float
    input_integer_bits: int | None = None
    power_of_two_scale: bool = False  # round fitted scales down to powers of two

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FpgatagError(f"inputs: unknown kind {self.kind!r}; known: {', '.join(KINDS)}")
        if (self.input_bits is None) != (self.input_integer_bits is None):
            raise FpgatagError("inputs: give both input_bits and input_integer_bits, or neither")
        if self.input_bits is not None and not (1 <= self.input_integer_bits <= self.input_bits <= 32):
            raise FpgatagError(f"inputs: precision ap_fixed<{self.input_bits},{self.input_integer_bits}> is not valid")
        self.features = list(self.features)
        if self.kind in HLS4ML_KINDS:
            self._check_hls4ml_features()

    def _check_hls4ml_features(self) -> None:
        from fpgatag.data.hls4ml import CONSTITUENT_16, JET_FEATURES

        known = JET_FEATURES if self.kind == "hls4ml_jet" else CONSTITUENT_16
        bad = [f for f in self.features if f not in known]
        if bad or not self.features:
            raise FpgatagError(f"inputs: kind {self.kind!r} has no feature(s) {', '.join(map(repr, bad)) or '(none given)'}; "
                               f"known: {', '.join(known)}")

    def source_keys(self) -> list[str]:
        """The batch keys of ``fpgatag.data.hls4ml`` this spec reads ([] for the other kinds)."""
        from fpgatag.data.hls4ml import CONSTITUENT_3

        if self.kind == "hls4ml_jet":
            return ["jet_features"]
        if self.kind == "hls4ml_constituents":
            three = all(f in CONSTITUENT_3 for f in self.features)
            return ["constituents_3" if three else "constituents_16", "n_constituents"]
        return []

    def _hls4ml_raw(self, batch: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
        from fpgatag.data.hls4ml import HLS4ML_NAMES

        key = self.source_keys()[0]
        if key not in batch:
            raise FpgatagError(f"inputs: kind {self.kind!r} needs batch key {key!r} (group /hls4ml)")
        names = list(HLS4ML_NAMES[key])
        data = np.asarray(batch[key], dtype=np.float32)
        cols = [names.index(f) for f in self.features]
        if self.kind == "hls4ml_jet":
            return data[:, cols], None
        if data.shape[1] < self.n_objects:
            raise FpgatagError(f"inputs: {self.n_objects} constituents asked for, the file's {key} holds "
                               f"{data.shape[1]} per jet")
        x = data[:, : self.n_objects][..., cols]
        n = np.asarray(batch["n_constituents"]).astype(np.int64)
        mask = np.arange(self.n_objects)[None, :] < n[:, None]
        return np.where(mask[..., None], x, 0.0).astype(np.float32), mask

    # ---- raw features (physics units), from fpgatag.data.features ----
    def raw(self, batch: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
        """Unscaled features: (x, mask) with x (B, N, F) and mask (B, N) for per-object kinds,
        x (B, F) and mask None for ``jet``."""
        from fpgatag.data import features as F

        if self.kind in ("particles", "flat_particles"):
            return F.particle_features(batch, n_particles=self.n_objects, features=self.features)
        if self.kind in ("trigger", "flat_trigger"):
            return F.trigger_features(batch, view=self.view, n_objects=self.n_objects, features=self.features)
        if self.kind == "jet_kin":
            return F.jet_kinematics(batch, features=self.features), None
        if self.kind in HLS4ML_KINDS:
            return self._hls4ml_raw(batch)
        if self.kind == "lund":  # Lund-tree nodes; the graph columns are neighbour indices (never scaled)
            from fpgatag.data.lund import lund_features

            return lund_features(batch, n_nodes=self.n_objects, features=self.features)
        return F.jet_features(batch, view=self.view, features=self.features), None

    def fit(self, batch: dict[str, np.ndarray]) -> "InputSpec":
        """Choose offset and scale from (training) data: median and 1/(2 * IQR-ish spread)."""
        x, mask = self.raw(batch)
        rows = x[mask] if mask is not None else x
        if rows.shape[0] == 0:
            raise FpgatagError("inputs: no objects to fit the input scaling on")
        med = np.median(rows, axis=0)
        lo, hi = np.percentile(rows, [5, 95], axis=0)
        # rare binary features (is_muon, ...) have no 5-95 % spread: use their full range (scale 1 if constant)
        full = rows.max(axis=0) - rows.min(axis=0)
        spread = np.where(hi - lo > 1e-6, hi - lo, np.where(full > 1e-6, full, 2.0))
        scale = 2.0 / spread
        offset = med
        if self.power_of_two_scale or self.input_bits is not None:
            scale = 2.0 ** np.floor(np.log2(scale))
            # offsets on the input grid too, so (x - offset) * scale stays exact
            offset = np.zeros_like(med) if self.input_bits is not None else med
        if self.kind in HLS4ML_KINDS and self.input_bits is not None:
            scale = self._fit_tail(rows, scale)
        if self.kind == "lund":
            from fpgatag.data.lund import LUND_GRAPH_FEATURES

            graph = np.isin(self.features, LUND_GRAPH_FEATURES)
            offset, scale = np.where(graph, 0.0, offset), np.where(graph, 1.0, scale)
        self.offset = [float(v) for v in offset]
        self.scale = [float(v) for v in scale]
        return self

    def _fit_tail(self, rows: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """Power-of-two scales halved until the TAIL_QUANTILE of |x| is inside the input range."""
        top = 2.0 ** (self.input_integer_bits - 1) - 2.0 ** (self.input_integer_bits - self.input_bits)
        tail = np.percentile(np.abs(rows), TAIL_QUANTILE, axis=0)
        need = np.where(tail > 0, np.ceil(np.log2(np.maximum(tail * scale, 1e-30) / top)), 0.0)
        return scale * 2.0 ** -np.maximum(need, 0.0)

    def transform(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        """The model's input array (float32), scaled, padded objects zero, quantized if ``input_bits``."""
        x, mask = self.raw(batch)
        if self.offset is not None:
            x = (x - np.asarray(self.offset, dtype=np.float32)) * np.asarray(self.scale, dtype=np.float32)
        if mask is not None:
            x = np.where(mask[..., None], x, 0.0)
        if self.input_bits is not None:
            x = quantize_fixed(x, self.input_bits, self.input_integer_bits)
        x = x.astype(np.float32)
        if self.kind.startswith("flat_"):
            x = x.reshape(x.shape[0], -1)
        return x

    def mask(self, batch: dict[str, np.ndarray]) -> np.ndarray | None:
        return self.raw(batch)[1]

    @property
    def shape(self) -> tuple[int, ...]:
        """Per-jet input shape."""
        nf = len(self.features)
        if self.kind in ("jet", "jet_kin", "hls4ml_jet"):
            return (nf,)
        if self.kind.startswith("flat_"):
            return (self.n_objects * nf,)
        return (self.n_objects, nf)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def precision(self) -> tuple[int, int] | None:
        """``(input_bits, input_integer_bits)``, or ``None`` for float inputs."""
        return None if self.input_bits is None else (self.input_bits, self.input_integer_bits)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "inputs.json") -> "InputSpec":
        """The spec of ``data``; a saved ``inputs.json`` of an older fpgatag names the input precision
        ``bits``/``integer_bits``, which load under their present names."""
        data = dict(data)
        for old, new in OLD_NAMES.items():
            if old in data and new not in data:
                data[new] = data.pop(old)
        return from_dict(cls, data, where)
