"""Figures of merit of a compressing autoencoder (numpy only).

* Residuals, per variable: ``(reconstructed - original) / original`` in physical units, over the
  values whose original is not zero (padded objects are never counted). Their mean and RMS carry
  the usual large-sample errors, ``RMS / sqrt(N)`` and ``RMS / sqrt(2 N)``; since variables
  centred on zero (eta, phi) have a heavy-tailed relative residual, the median and the half-width
  of the central 68 % are given as well.
* Reconstruction loss: the mean squared error in the normalised input space, per jet, with its
  standard error.
* Compression: latent bits (``n_latent * latent_bits``) against the bits of the encoder's input
  (``n_inputs * input_bits`` of the firmware's input type) and against float32.
* Anomaly detection: the per-jet reconstruction error as a score; the AUC of the other classes
  against the class the autoencoder was trained on, with the Hanley & McNeil (1982) standard error.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from fpgatag.core.errors import FpgatagError


def relative_residuals(original: np.ndarray, reconstructed: np.ndarray,
                       mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(residuals, valid)``: ``(reco - orig) / orig`` element-wise and where it is defined
    (``orig != 0`` and, with ``mask``, the element is real). Undefined elements hold NaN."""
    orig = np.asarray(original, dtype=np.float64)
    reco = np.asarray(reconstructed, dtype=np.float64)
    if orig.shape != reco.shape:
        raise ValueError(f"original {orig.shape} and reconstruction {reco.shape} differ in shape")
    valid = orig != 0
    if mask is not None:
        valid &= np.broadcast_to(np.asarray(mask, dtype=bool)[..., None] if mask.ndim == orig.ndim - 1 else mask,
                                 orig.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        res = np.where(valid, (reco - orig) / np.where(valid, orig, 1.0), np.nan)
    return res, valid


def summarize(values: np.ndarray) -> dict[str, Any]:
    """N, mean +- error, RMS +- error, median and central-68 % half-width of finite ``values``."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n == 0:
        return {"n": 0, "mean": None, "mean_err": None, "rms": None, "rms_err": None, "median": None,
                "central68_half_width": None}
    rms = float(np.sqrt(np.mean(v ** 2)))
    std = float(np.std(v))
    q16, q50, q84 = np.percentile(v, [15.865, 50.0, 84.135])
    return {"n": n, "mean": float(v.mean()), "mean_err": std / np.sqrt(n), "rms": rms, "rms_err": rms / np.sqrt(2 * n),
            "median": float(q50), "central68_half_width": float((q84 - q16) / 2)}


def residual_summary(original: np.ndarray, reconstructed: np.ndarray, variables: Sequence[str],
                     mask: np.ndarray | None = None) -> dict[str, dict[str, Any]]:
    """:func:`summarize` of the relative residuals of each variable (the last axis)."""
    res, _ = relative_residuals(original, reconstructed, mask)
    if res.shape[-1] != len(variables):
        raise ValueError(f"{res.shape[-1]} variables in the arrays, {len(variables)} names")
    return {name: summarize(res[..., i]) for i, name in enumerate(variables)}


def compression(n_inputs: int, input_bits: int, n_latent: int, latent_bits: int) -> dict[str, Any]:
    """Bits per jet before and after the encoder, and the ratios."""
    if min(n_inputs, input_bits, n_latent, latent_bits) < 1:
        raise FpgatagError("compression: every size must be positive")
    inp, lat = int(n_inputs) * int(input_bits), int(n_latent) * int(latent_bits)
    return {"input_bits": inp, "latent_bits": lat, "ratio": inp / lat, "float32_bits": 32 * int(n_inputs),
            "ratio_vs_float32": 32 * int(n_inputs) / lat, "n_inputs": int(n_inputs), "n_latent": int(n_latent),
            "input_bits_per_value": int(input_bits), "latent_bits_per_value": int(latent_bits)}


def reconstruction_error(x: np.ndarray, reconstructed: np.ndarray) -> np.ndarray:
    """Per-jet mean squared error over all inputs (normalised space)."""
    d = np.asarray(reconstructed, dtype=np.float64) - np.asarray(x, dtype=np.float64)
    return np.mean(d.reshape(len(d), -1) ** 2, axis=1)


def auc_with_error(is_signal: np.ndarray, score: np.ndarray) -> dict[str, Any]:
    """AUC of ``score`` for ``is_signal`` vs the rest, with the Hanley-McNeil standard error."""
    from fpgatag.core.metrics import auc

    y = np.asarray(is_signal, dtype=bool)
    n1, n2 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n2 == 0:
        return {"auc": None, "auc_err": None, "n_signal": n1, "n_background": n2}
    a = float(auc(y.astype(int), np.asarray(score, dtype=np.float64)))
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    var = (a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n2 - 1) * (q2 - a * a)) / (n1 * n2)
    return {"auc": a, "auc_err": float(np.sqrt(max(var, 0.0))), "n_signal": n1, "n_background": n2}
