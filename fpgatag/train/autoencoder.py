"""``fpgatag train-ae``: train a compressing autoencoder and measure what it keeps.

A preset (``models/presets/ae-*.json``, ``"role": "autoencoder"``) names the inputs -- the stored
jet four-vector (inputs kind ``jet_kin``: pt, eta, phi, mass or e) or the trigger view's objects
(``flat_trigger``) -- and the encoder/decoder sizes (:mod:`fpgatag.nn.autoencoder`).

Normalisation, as in the reference 4-to-3 jet autoencoder: every variable is standardised with
the training split's mean and standard deviation, ``x' = (x - mean) / std`` (over real objects
only; padded objects stay zero). The standardised values are then rounded to the encoder's input
type ``ap_fixed<16,6>``, so the Keras encoder and its firmware see the same inputs (inputs.json).

By default the autoencoder is trained on one class (``train_on="qcd"``), the background-only
training of anomaly detection; ``train_on="all"`` uses every jet. The test split of every class
is scored either way. The run directory holds::

    encoder/        model.json + model.h5 + inputs.json: the quantized encoder, for synth/validate
    decoder/        model.json + model.h5: the float decoder (offline)
    metrics.json    residuals per variable, reconstruction loss, compression, anomaly AUC
    residuals.png   the per-variable residual distributions; anomaly.png; loss.png
    reconstruction.npz  test split: uid, label, latent, original, reconstructed (physical units)
    history.json, run.json
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from fpgatag.core.errors import FpgatagError
from fpgatag.core.io import atomic_dir, write_json
from fpgatag.nn.inputs import InputSpec
from fpgatag.train.config import TrainingConfig

log = logging.getLogger(__name__)

DEFAULT_TRAINING = {"epochs": 100, "batch_size": 256, "learning_rate": 3e-3, "patience": 10, "train_on": "qcd"}
AE_KINDS = ("jet_kin", "flat_trigger")
INPUT_PRECISION = (16, 6)


def check_variables(spec: InputSpec, data_path: Any) -> list[str]:
    """The preset's (or ``--variables``') names, canonical; a one-line error names a missing one."""
    from fpgatag.data import features as F

    if spec.kind == "jet_kin":
        known, aliases, what = F.JET_KINEMATICS, F.JET_KINEMATICS_ALIASES, "jet four-vector"
    else:
        known, aliases, what = F.TRIGGER_FEATURES, {}, f"trigger view ({spec.view}) objects"
    names = [aliases.get(v, v) for v in spec.features]
    for given, name in zip(spec.features, names):
        if name not in known:
            extra = f"; also {', '.join(aliases)}" if aliases else ""
            raise FpgatagError(f"{data_path}: the jets hold no variable {given!r} to compress "
                               f"({what}: {', '.join(known)}{extra})")
    if len(set(names)) != len(names):
        raise FpgatagError(f"variables: {', '.join(spec.features)} names a variable twice")
    return names


def _spec(preset: dict[str, Any], variables: Sequence[str] | None, n_objects: int | None) -> InputSpec:
    spec = InputSpec.from_dict(preset["inputs"], where=f"preset {preset['name']}: inputs")
    if spec.kind not in AE_KINDS:
        raise FpgatagError(f"preset {preset['name']}: autoencoders take inputs kind {' or '.join(AE_KINDS)}, not {spec.kind!r}")
    if variables is not None:
        spec.features = [v.strip() for v in variables if v.strip()]
        if not spec.features:
            raise FpgatagError("variables: the list is empty")
    if n_objects is not None and spec.kind != "jet_kin":
        if int(n_objects) < 1:
            raise FpgatagError(f"n_objects must be positive, got {n_objects}")
        spec.n_objects = int(n_objects)
    spec.bits, spec.integer_bits = INPUT_PRECISION
    return spec


def standardise(spec: InputSpec, batch: dict[str, np.ndarray]) -> InputSpec:
    """Set the spec's offset/scale to the mean and 1/std of ``batch`` (real objects only)."""
    x, mask = spec.raw(batch)
    rows = x[mask] if mask is not None else x
    if rows.shape[0] < 2:
        raise FpgatagError("autoencoder: fewer than two training values to standardise on")
    std = rows.std(axis=0)
    spec.offset = [float(v) for v in rows.mean(axis=0)]
    spec.scale = [float(1.0 / s) if s > 0 else 1.0 for s in std]
    return spec


def _splits(source, train_on: str, max_jets: int | None, seed: int) -> tuple[dict[str, np.ndarray], int | None]:
    from fpgatag.core.splits import select_jets, split_indices

    uids, labels = np.asarray(source.uids()), np.asarray(source.labels()).astype(int)
    chosen = select_jets(source.n_jets, max_jets, seed)
    parts = split_indices(uids[chosen])
    splits = {k: np.unique(chosen[v]) for k, v in parts.items()}
    trained_class = None
    if train_on != "all":
        trained_class = list(source.classes).index(train_on)
        for name in ("train", "val"):
            splits[name] = splits[name][labels[splits[name]] == trained_class]
    for name in ("train", "val", "test"):
        if splits[name].size < 2:
            raise FpgatagError(f"the {name} split holds {splits[name].size} jets (training on {train_on}); use more jets")
    return splits, trained_class


def _fit(ae, x_train, x_val, training: dict[str, Any], seed: int) -> tuple[dict[str, list[float]], int, float]:
    """Train with the shared loop (:func:`fpgatag.train.loop.fit`); the best epoch's weights are kept."""
    from fpgatag.train.loop import fit, make_optimizer, memory_dataset

    config = TrainingConfig(**training)
    ae.compile(optimizer=make_optimizer(config, int(np.ceil(len(x_train) / config.batch_size))), loss="mse")
    history, best, seconds = fit(ae, memory_dataset(x_train, x_train, config.batch_size, True, seed),
                                 memory_dataset(x_val, x_val, config.batch_size, False, seed), config, desc="train-ae")
    if best.weights is not None:
        ae.set_weights(best.weights)
    history = {k: v for k, v in history.items() if k not in ("lr", "seconds")}
    return history, best.best_epoch + 1, seconds


def _physical(spec: InputSpec, x_norm: np.ndarray) -> np.ndarray:
    """Normalised (B, F) or flat (B, N*F) values back in physical units, shaped like spec.raw."""
    x = np.asarray(x_norm, dtype=np.float64)
    if spec.kind != "jet_kin":
        x = x.reshape(len(x), spec.n_objects, len(spec.features))
    return x / np.asarray(spec.scale) + np.asarray(spec.offset)


def evaluate(encoder, decoder, spec: InputSpec, batch: dict[str, np.ndarray], x: np.ndarray,
             labels: np.ndarray, trained_class: int | None, params: dict[str, Any]) -> tuple[dict[str, Any], dict]:
    """Metrics of the test split and the arrays behind them."""
    from fpgatag.train import ae_metrics as M

    latent = encoder.predict(x, batch_size=4096, verbose=0)
    recon = decoder.predict(latent, batch_size=4096, verbose=0)
    orig, mask = spec.raw(batch)
    reco = _physical(spec, recon)
    if mask is not None:
        reco = np.where(mask[..., None], reco, 0.0)
    err = M.reconstruction_error(x, recon)
    loss = {"mse": float(err.mean()), "mse_err": float(err.std() / np.sqrt(len(err))), "n": int(len(err))}
    per_class = {int(c): float(err[labels == c].mean()) for c in np.unique(labels)}
    out: dict[str, Any] = {
        "residuals": M.residual_summary(orig, reco, spec.features, mask),
        "reconstruction_loss": {**loss, "per_class": per_class},
        "compression": M.compression(int(np.prod(spec.shape)), spec.bits, int(params["latent"]), int(params["latent_bits"])),
        "n_test": int(len(x)),
    }
    if trained_class is not None:
        out["anomaly"] = {"trained_on_class": trained_class, "score": "per-jet reconstruction MSE",
                          **M.auc_with_error(labels != trained_class, err)}
    arrays = {"latent": latent, "original": orig.astype(np.float32), "reconstructed": reco.astype(np.float32),
              "error": err, "mask": mask}
    return out, arrays


def _options(data, preset: str, variables, n_objects, model_overrides: dict, training_overrides: dict):
    """Preset, parameters, training settings, input spec and source, every option checked."""
    from fpgatag.nn.autoencoder import latent_quantizer
    from fpgatag.nn.presets import load_preset
    from fpgatag.nn.students import check_bits
    from fpgatag.train.data import as_source

    p = load_preset(preset, role="autoencoder")
    if p.get("builder") != "autoencoder":
        raise FpgatagError(f"preset {p['name']}: builder {p.get('builder')!r} is not 'autoencoder'")
    params = {"latent": 3, "encoder": [32, 16], "decoder": [16, 32], "bits": 8, "latent_bits": 8, "latent_integer": 3,
              **p["params"], **{k: v for k, v in model_overrides.items() if v is not None}}
    params["bits"] = check_bits(params["bits"])
    latent_quantizer(params["latent_bits"], params["latent_integer"])
    training = TrainingConfig.resolve(DEFAULT_TRAINING, p.get("training"), training_overrides,
                                      where=f"preset {p['name']}").to_dict()
    spec = _spec(p, variables, n_objects)
    source = as_source(data)
    data_path = Path(data) if isinstance(data, (str, Path)) else getattr(source, "path", "data")
    spec.features = check_variables(spec, data_path)
    n_inputs = int(np.prod(spec.shape))
    if not 1 <= int(params["latent"]) < n_inputs:
        raise FpgatagError(f"latent {params['latent']}: must be in [1, {n_inputs}) to compress {n_inputs} inputs")
    train_on = str(training["train_on"])
    if train_on != "all" and train_on not in source.classes:
        raise FpgatagError(f"train_on {train_on!r}: {data_path} has classes {', '.join(source.classes)} (or use 'all')")
    return p, params, training, spec, source, data_path


def train_autoencoder(data, preset: str = "ae-jet", out_dir: str | Path = "runs/ae", variables: Sequence[str] | None = None,
                      latent: int | None = None, bits: int | None = None, latent_bits: int | None = None,
                      n_objects: int | None = None, train_on: str | None = None, epochs: int | None = None,
                      batch_size: int | None = None, learning_rate: float | None = None, patience: int | None = None,
                      seed: int = 0, max_jets: int | None = None, command: str | None = None) -> dict[str, Any]:
    """Train the autoencoder preset on ``data`` and write the run directory ``out_dir``; return its metrics."""
    import tensorflow as tf

    from fpgatag.core.provenance import provenance
    from fpgatag.nn.autoencoder import build_autoencoder
    from fpgatag.nn.io import save_model
    from fpgatag.train.data import _read_rows, input_keys, load_arrays
    from fpgatag.train.runs import data_record, split_record

    # ---- cheap checks first ----
    p, params, training, spec, source, data_path = _options(
        data, preset, variables, n_objects, {"latent": latent, "bits": bits, "latent_bits": latent_bits},
        {"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate, "patience": patience,
         "train_on": train_on})
    n_inputs = int(np.prod(spec.shape))
    train_on = str(training["train_on"])

    # ---- data ----
    splits, trained_class = _splits(source, train_on, max_jets, seed)
    standardise(spec, _read_rows(source, splits["train"], input_keys(spec)))
    (x_tr, _), (x_va, _) = load_arrays(source, spec, splits["train"]), load_arrays(source, spec, splits["val"])
    test_batch = _read_rows(source, splits["test"], input_keys(spec))
    x_te, y_te = spec.transform(test_batch), np.asarray(test_batch["label"]).astype(int)
    log.info("%s: %s, %d inputs -> %d latent x %d bits; train %d / val %d (%s) / test %d jets", p["name"],
             ", ".join(spec.features), n_inputs, params["latent"], params["latent_bits"], len(x_tr), len(x_va),
             train_on, len(x_te))

    # ---- model ----
    tf.keras.utils.set_random_seed(seed)
    enc, dec, ae = build_autoencoder(n_inputs, int(params["latent"]), params["encoder"], params["decoder"],
                                     params["bits"], int(params["latent_bits"]), int(params["latent_integer"]))
    history, best_epoch, seconds = _fit(ae, x_tr, x_va, training, seed)
    metrics, arrays = evaluate(enc, dec, spec, test_batch, x_te, y_te, trained_class, params)
    metrics.update({"role": "autoencoder", "preset": p["name"], "kind": spec.kind, "variables": list(spec.features),
                    "n_objects": spec.n_objects if spec.kind != "jet_kin" else None, "train_on": train_on,
                    "classes": list(source.classes), "n_train": int(len(x_tr)), "n_val": int(len(x_va)),
                    "best_epoch": best_epoch, "epochs_run": len(history.get("loss", [])),
                    "train_seconds": round(seconds, 3), "params": params, "seed": int(seed),
                    "input_precision": list(INPUT_PRECISION), "normalisation": "standardised: (x - mean) / std of the training split"})

    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        save_model(enc, tmp / "encoder", inputs=spec)
        save_model(dec, tmp / "decoder")
        write_json(tmp / "metrics.json", metrics)
        write_json(tmp / "history.json", history)
        np.savez_compressed(tmp / "reconstruction.npz", uid=np.asarray(test_batch["uid"]), label=y_te,
                            latent=arrays["latent"], original=arrays["original"], reconstructed=arrays["reconstructed"],
                            error=arrays["error"])
        from fpgatag.train.ae_plots import plot_anomaly, plot_loss, plot_residuals

        plot_residuals(tmp / "residuals.png", arrays["original"], arrays["reconstructed"], spec.features, arrays["mask"],
                       title=f"{p['name']}: test split, {len(x_te)} jets")
        plot_loss(tmp / "loss.png", history, len(x_tr), len(x_va))
        if "anomaly" in metrics:
            plot_anomaly(tmp / "anomaly.png", arrays["error"], y_te, list(source.classes), metrics["anomaly"])
        record = provenance({"preset": p, "params": params, "training": training, "inputs": spec.to_dict(),
                             "max_jets": max_jets, "seed": seed}, command=command)
        record.update(data=data_record(source, data_path if isinstance(data_path, Path) else None),
                      splits=split_record(splits, labels=np.asarray(source.labels()).astype(int)), name=out_dir.name)
        write_json(tmp / "run.json", record)
    log.info("%s: test MSE %.4g, compression %.2fx -> %s", p["name"], metrics["reconstruction_loss"]["mse"],
             metrics["compression"]["ratio"], out_dir)
    return metrics
