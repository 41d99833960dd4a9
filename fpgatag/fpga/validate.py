"""``fpgatag validate``: bit-exact C simulation of the firmware against the Keras model.

Both receive the same inputs, quantized to the firmware's input precision first (inputs not on the
input grid cannot be bit-exact). The C simulation runs in batches over worker processes
(:mod:`fpgatag.fpga.csim`); the RTL simulation (``--rtl``) in Verilator (:mod:`fpgatag.fpga.rtlsim`).
Both can run in chunks of jets on a Dask cluster (``--scheduler``) with the same figures.
"""

from __future__ import annotations

import collections
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from fpgatag.core.errors import ArgumentError, FpgatagError
from fpgatag.core.io import write_json
from fpgatag.core.metrics import classification_metrics, format_table
from fpgatag.core.provenance import provenance
from fpgatag.fpga.options import FirmwareOptions

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = ["n", "bit_exact_fraction", "max_abs_diff", "max_diff_lsb", "argmax_agreement", "auc_keras", "auc_hls", "jets_per_s"]
PROFILE_COLUMNS = ["layer", "class", "type", "type_lo", "type_hi", "keras_min", "keras_max", "hls_min", "hls_max",
                   "mismatch_fraction", "status"]


def load_data(data: str | os.PathLike | np.ndarray, loaded, n: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(x, labels) for validation: a .npy array in the model's input shape, or a jets file whose
    test split is prepared by the model's InputSpec."""
    from fpgatag.nn.inputs import quantize_fixed

    model = loaded.model
    want = tuple(int(d) for d in model.inputs[0].shape[1:])
    labels = None
    if isinstance(data, np.ndarray):
        x = data
    else:
        path = Path(data)
        if not path.is_file():
            raise FpgatagError(f"{path}: data file not found")
        if path.suffix.lower() == ".npy":
            try:
                x = np.load(path, allow_pickle=False)
            except ValueError as exc:
                raise FpgatagError(f"{path}: not a numpy array file ({exc})") from None
            lab = path.with_name(path.stem + "_labels.npy")
            if lab.is_file():
                labels = np.load(lab, allow_pickle=False)
        else:
            if loaded.inputs is None:
                raise FpgatagError(f"{loaded.source}: no inputs.json, so jets in {path.name} cannot be prepared; "
                                   "give --data X.npy in the model's input shape")
            from fpgatag.core.splits import split_indices
            from fpgatag.data.io import open_jets

            with open_jets(path) as src:
                idx = split_indices(src.uids())["test"][:n]
                if idx.size == 0:
                    raise FpgatagError(f"{path}: test split is empty")
                from fpgatag.train.data import input_keys

                batch = src.read(indices=idx, keys=input_keys(loaded.inputs))
            x = loaded.inputs.transform(batch)
            labels = np.asarray(batch["label"])
    x = np.asarray(x, dtype=np.float32)[:n]
    if tuple(x.shape[1:]) != want:
        raise FpgatagError(f"{getattr(data, 'name', 'data')}: input shape {tuple(x.shape[1:])} does not match "
                           f"the model's input {want}")
    if labels is not None:
        labels = np.asarray(labels)[: len(x)]
    bits, ibits = loaded.input_precision or _default_precision()
    return quantize_fixed(x, bits, ibits), labels


def _default_precision():
    from fpgatag.fpga.convert import DEFAULT_INPUT_PRECISION

    return DEFAULT_INPUT_PRECISION


def class_info(loaded) -> dict[str, Any]:
    """``signal`` and ``classes`` of a model from its run directory's metrics.json ({} without one)."""
    path = Path(loaded.source) / "metrics.json"
    if not path.is_file():
        return {}
    from fpgatag.core.io import read_json

    m = read_json(path, "metrics file")
    classes = m.get("classes")
    if not classes or m.get("signal_class") not in classes:
        return {}
    return {"signal": classes.index(m["signal_class"]), "classes": list(classes)}


def compare(y_keras: np.ndarray, y_hls: np.ndarray, labels: np.ndarray | None = None,
            outputs: str = "logits", signal: int | None = None, classes: list[str] | None = None) -> dict[str, Any]:
    """Bit-exactness and agreement figures of two output arrays (n, k) of ``outputs`` kind
    (``logits`` or ``probabilities``, see :func:`fpgatag.train.runs.model_outputs`). ``signal`` (index)
    and ``classes`` (names) of the model, as :func:`class_info` reads them; default class 1 of two,
    the last of more."""
    from fpgatag.train.runs import probabilities

    yk = np.asarray(y_keras, dtype=np.float32).reshape(len(y_keras), -1)
    yh = np.asarray(y_hls, dtype=np.float32).reshape(len(y_hls), -1)
    out: dict[str, Any] = {
        "n": int(len(yk)),
        "bit_exact_fraction": float(np.mean(np.all(yk == yh, axis=1))),
        "bit_exact_outputs_fraction": float(np.mean(yk == yh)),
        "max_abs_diff": float(np.max(np.abs(yk.astype(np.float64) - yh))) if yk.size else 0.0,
        "argmax_agreement": float(np.mean(yk.argmax(1) == yh.argmax(1))) if yk.shape[1] > 1
        else float(np.mean((yk[:, 0] > 0) == (yh[:, 0] > 0))),
        "auc_keras": None, "auc_hls": None,
    }
    if _is_classifier_of(yk.shape[1], labels, classes):
        pk, ph = probabilities(yk, outputs), probabilities(yh, outputs)
        if signal is None:
            signal = 1 if pk.ndim == 1 else max(pk.shape[1] - 1, 1)
        mk = classification_metrics(labels, pk, signal=signal, classes=classes)
        mh = classification_metrics(labels, ph, signal=signal, classes=classes)
        out.update(auc_keras=mk["auc"], auc_hls=mh["auc"], accuracy_keras=mk["accuracy"], accuracy_hls=mh["accuracy"],
                   metrics_keras=mk, metrics_hls=mh)
    return out


def _is_classifier_of(k: int, labels: np.ndarray | None, classes: list[str] | None) -> bool:
    """Whether ``k`` outputs score the classes of ``labels`` (one output per class, or one for two):
    classification figures are made only then (an encoder's latents, for example, get none)."""
    if labels is None or len(np.unique(labels)) < 2:
        return False
    n_classes = len(classes) if classes else int(np.max(labels)) + 1
    return k == n_classes or (k == 1 and n_classes == 2)


def output_lsb_diff(hls_model, max_abs_diff: float) -> dict[str, Any]:
    """The firmware output's LSB and the largest Keras-firmware difference in units of it."""
    p = hls_model.get_output_variables()[0].type.precision
    width, integer = getattr(p, "width", None), getattr(p, "integer", None)
    if width is None or integer is None:
        return {"output_type": str(p), "output_lsb": None, "max_diff_lsb": None}
    lsb = 2.0 ** -(int(width) - int(integer))
    return {"output_type": str(p), "output_lsb": lsb, "max_diff_lsb": float(max_abs_diff) / lsb}


def _model_and_jets(model, weights, opts: FirmwareOptions, data, n: int):
    """The loaded model (its input precision from ``opts`` when given) and up to ``n`` of its input jets."""
    from fpgatag.fpga.convert import load_model_like

    loaded = load_model_like(model, weights)
    if opts.input_precision is not None:
        loaded.input_precision = tuple(opts.input_precision)
    x, labels = load_data(data, loaded, int(n))
    if len(x) == 0:
        raise FpgatagError("data: no jets to validate on")
    return loaded, x, labels


def validate(model, data, n: int = 10000, output=None, min_bit_exact: float = 0.99, min_argmax: float = 0.999,
             profile: bool = False, workers: int = 2, weights=None, options: FirmwareOptions | None = None,
             profile_n: int = 1000, project_dir=None, scheduler: str | None = None, executor=None,
             **option_overrides: Any) -> dict[str, Any]:
    """C-simulate MODEL's firmware on ``data`` and compare with Keras; returns validate.json's content.

    ``model`` is a path (any accepted MODEL form) or a keras.Model; ``data`` a path (.npy or a jets
    file) or an array. ``output`` (a directory or a ``.json`` path) receives validate.json.
    ``passed`` is False when a threshold is missed (the CLI then exits non-zero). ``options`` (a
    :class:`~fpgatag.fpga.options.FirmwareOptions`) or its fields as keywords: the firmware simulated.
    With ``scheduler`` (a Dask address) or ``executor``, the jets are simulated in chunks on that
    engine's workers (:func:`validate_distributed`); the figures are the same.
    """
    if scheduler is not None or executor is not None:
        if profile:
            raise ArgumentError("profile", ": per-layer profiles run in this process, not with a scheduler or an executor")
        return validate_distributed(model, data, n=n, output=output, min_bit_exact=min_bit_exact,
                                    min_argmax=min_argmax, weights=weights,
                                    options=FirmwareOptions.make(options, **option_overrides),
                                    scheduler=scheduler, executor=executor)
    from fpgatag.fpga import csim
    from fpgatag.fpga.convert import convert_with

    opts = FirmwareOptions.make(options, **option_overrides)
    if opts.io_type != "io_parallel":
        raise FpgatagError("io_type: validate runs the io_parallel firmware only")
    csim.require_compiler()
    loaded, x, labels = _model_and_jets(model, weights, opts, data, n)
    tmp = None
    if project_dir is None:
        tmp = tempfile.mkdtemp(prefix="fpgatag-validate-")
        project_dir = tmp
    try:
        t0 = time.perf_counter()
        hls_model, _, notes = convert_with(loaded.model, Path(project_dir) / "csim", opts,
                                           input_precision=loaded.input_precision)
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            hls_model.compile()
        shim = csim.build_shim(hls_model)
        t_compile = time.perf_counter() - t0
        n_out = int(np.prod(loaded.model.outputs[0].shape[1:]))
        t0 = time.perf_counter()
        y_hls = csim.run_batch(shim, x, n_out, workers=workers)
        t_sim = time.perf_counter() - t0
        y_keras = loaded.model.predict(x, batch_size=2048, verbose=0).reshape(len(x), -1)
        result = compare(y_keras, y_hls, labels, loaded.outputs or "logits", **class_info(loaded))
        result.update(output_lsb_diff(hls_model, result["max_abs_diff"]))
        result.update(jets_per_s=len(x) / t_sim if t_sim > 0 else None, compile_s=t_compile, csim_s=t_sim,
                      workers=int(workers), min_bit_exact=min_bit_exact, min_argmax=min_argmax,
                      input_precision=list(loaded.input_precision or _default_precision()),
                      widened=notes.get("widened", []), model=str(loaded.source),
                      data=str(data) if not isinstance(data, np.ndarray) else "<array>")
        if profile:
            from fpgatag.fpga.profile import profile_layers

            ph, _, _ = convert_with(loaded.model, Path(project_dir) / "trace", opts,
                                    input_precision=loaded.input_precision, trace=True)
            rows = profile_layers(loaded.model, ph, x[: int(profile_n)])
            result["profile"] = rows
            result["problem_layers"] = [r["layer"] for r in rows if r["status"] in ("overflows", "saturates")]
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    result["n_jets"] = result["n"]
    return _finish(result, output, {"n": n, "workers": workers, "backend": opts.backend, "part": opts.target.full,
                                    "min_bit_exact": min_bit_exact, "min_argmax": min_argmax,
                                    **({"hls_config": opts.record()["hls_config"]} if opts.hls_config else {})})


# ----------------------------------------------------------------------------------------------
# Validation in chunks of jets on an executor (a local pool or a Dask cluster)

CHUNK_JETS = 2048   # jets per task of the chunked C simulation
_CSIM: dict[str, tuple[str, int, dict[str, Any]]] = {}   # per worker process: spec -> compiled shim


def _build_csim(spec: dict[str, Any]) -> tuple[str, int, dict[str, Any]]:
    """Convert and compile the spec's model in this process (once): (shim path, outputs, facts)."""
    import atexit
    import contextlib
    import io

    from fpgatag.fpga import csim
    from fpgatag.fpga.convert import convert_with, load_model_like

    csim.require_compiler()
    t0 = time.perf_counter()
    loaded = load_model_like(spec["model"], spec["weights"])
    prec = tuple(spec["input_precision"]) if spec["input_precision"] is not None else None
    tmp = tempfile.mkdtemp(prefix="fpgatag-validate-")
    atexit.register(shutil.rmtree, tmp, True)
    hls_model, _, notes = convert_with(loaded.model, Path(tmp) / "csim", spec["options"], input_precision=prec)
    with contextlib.redirect_stdout(io.StringIO()):
        hls_model.compile()
    shim = str(csim.build_shim(hls_model))
    facts = {"widened": notes.get("widened", []), **output_lsb_diff(hls_model, 0.0),
             "compile_s": time.perf_counter() - t0}
    facts.pop("max_diff_lsb")
    return shim, int(np.prod(loaded.model.outputs[0].shape[1:])), facts


def csim_chunk(spec: dict[str, Any], x: np.ndarray) -> dict[str, Any]:
    """C-simulate one chunk of jets (runs in a worker; the firmware is built once per worker process)."""
    from fpgatag.fpga import csim

    key = repr(sorted(spec.items()))
    built = key not in _CSIM
    if built:
        _CSIM[key] = _build_csim(spec)
    shim, n_out, facts = _CSIM[key]
    return {"y": csim.run_batch(shim, x, n_out, workers=1), **facts, "compile_s": facts["compile_s"] if built else 0.0}


def validate_distributed(model, data, n: int = 10000, output=None, min_bit_exact: float = 0.99,
                         min_argmax: float = 0.999, weights=None, options: FirmwareOptions | None = None,
                         scheduler: str | None = None, executor=None, workers: int = 2,
                         chunk_jets: int = CHUNK_JETS) -> dict[str, Any]:
    """:func:`validate` with the jets cut into chunks of ``chunk_jets``, each C-simulated on a worker of
    ``executor`` / the Dask cluster at ``scheduler`` / ``workers`` local processes. The outputs come back
    in jet order and are compared in one piece, so every figure equals the one-process result. MODEL
    must be a path that the workers can read (a shared file system on a cluster)."""
    import functools

    from fpgatag.core.executor import map_ordered, open_engine

    if not isinstance(model, (str, os.PathLike)):
        raise FpgatagError("validate: the workers load MODEL from its path; an in-memory model runs only locally")
    opts = FirmwareOptions.make(options)
    if opts.io_type != "io_parallel":
        raise FpgatagError("io_type: validate runs the io_parallel firmware only")
    with open_engine(workers, scheduler, executor) as engine:   # a scheduler that does not answer: before the work
        loaded, x, labels = _model_and_jets(model, weights, opts, data, n)
        spec = {"model": str(Path(model).resolve()), "weights": str(Path(weights).resolve()) if weights else None,
                "options": opts, "input_precision": list(loaded.input_precision) if loaded.input_precision else None}
        chunks = [x[i:i + int(chunk_jets)] for i in range(0, len(x), int(chunk_jets))]
        log.info("validate: %d jets in %d chunk(s) on %s", len(x), len(chunks), engine.description)
        t0 = time.perf_counter()
        outs = list(map_ordered(engine, functools.partial(csim_chunk, spec), chunks))
        t_sim = time.perf_counter() - t0
    y_hls = np.concatenate([o["y"] for o in outs])
    y_keras = loaded.model.predict(x, batch_size=2048, verbose=0).reshape(len(x), -1)
    result = compare(y_keras, y_hls, labels, loaded.outputs or "logits", **class_info(loaded))
    facts = {k: v for k, v in outs[0].items() if k not in ("y", "compile_s")}
    result.update(facts, max_diff_lsb=result["max_abs_diff"] / facts["output_lsb"] if facts["output_lsb"] else None)
    result.update(jets_per_s=len(x) / t_sim if t_sim > 0 else None, compile_s=max(o["compile_s"] for o in outs),
                  csim_s=t_sim, workers=engine.slots, engine=engine.description, chunks=len(chunks),
                  min_bit_exact=min_bit_exact, min_argmax=min_argmax,
                  input_precision=list(loaded.input_precision or _default_precision()), model=str(loaded.source),
                  data=str(data) if not isinstance(data, np.ndarray) else "<array>", n_jets=result["n"])
    return _finish(result, output, {"n": n, "workers": engine.slots, "scheduler": scheduler, "backend": opts.backend,
                                    "part": opts.target.full, "min_bit_exact": min_bit_exact, "min_argmax": min_argmax,
                                    **({"hls_config": opts.record()["hls_config"]} if opts.hls_config else {})})


def validate_rtl(model, data, rtl_dir, n: int = 10000, output=None, min_bit_exact: float = 0.99,
                 min_argmax: float = 0.999, workers: int = 2, weights=None, scheduler: str | None = None,
                 executor=None, chunk_jets: int = CHUNK_JETS, sim_opt: str = "O0") -> dict[str, Any]:
    """Verilator-simulate the RTL in ``rtl_dir`` (``fpgatag synth --flow rtl``) against MODEL in Keras.

    Inputs are quantized to the input precision the RTL was built for (its manifest); the result has
    the same keys as the C simulation's, with ``simulator`` = "verilator" and the build time. In this
    process, the simulation runs on ``workers`` Verilator threads. With ``scheduler`` (a Dask address)
    or ``executor``, the jets go in chunks of ``chunk_jets`` to that engine's workers
    (:func:`_rtl_chunks`): they get the RTL sources as one archive and build each once; MODEL stays
    here (Keras runs in this process), and every figure equals the one-process result. ``sim_opt``: the
    compiler's optimisation of the simulation (O0 builds fastest; O1 builds about 3x slower and simulates
    about 5x faster, for millions of jets).
    """
    import contextlib

    from fpgatag.core.executor import open_engine

    from fpgatag.fpga.rtlsim import opt_flags

    remote = scheduler is not None or executor is not None
    opt_flags(sim_opt)   # an unknown level is refused before anything is read or built
    # a scheduler that does not answer is reported before anything is read or built
    with open_engine(workers, scheduler, executor) if remote else contextlib.nullcontext() as engine:
        loaded, x, labels, manifest = _rtl_jets(model, weights, data, rtl_dir, n)
        y_rtl, facts = (_rtl_chunks(engine, rtl_dir, x, chunk_jets, sim_opt) if remote
                        else _rtl_local(rtl_dir, x, workers, sim_opt))
    y_keras = loaded.model.predict(x, batch_size=2048, verbose=0).reshape(len(x), -1)
    result = compare(y_keras, y_rtl, labels, loaded.outputs or "logits", **class_info(loaded))
    result.update(n_jets=result["n"], simulator="verilator", rtl=str(rtl_dir), **facts,
                  min_bit_exact=min_bit_exact, min_argmax=min_argmax, input_precision=list(loaded.input_precision),
                  latency_cycles=manifest["latency_cycles"], model=str(loaded.source),
                  data=str(data) if not isinstance(data, np.ndarray) else "<array>")
    settings = {"n": n, "workers": facts["workers"], "rtl": str(rtl_dir), "sim_opt": sim_opt, "min_bit_exact": min_bit_exact,
                "min_argmax": min_argmax, **({"scheduler": scheduler, "chunk_jets": int(chunk_jets)} if remote else {})}
    return _finish(result, output, settings)


def _rtl_jets(model, weights, data, rtl_dir, n: int):
    """(loaded model, jets on the RTL's input grid, labels, manifest), after the cheap checks."""
    from fpgatag.fpga import rtlsim
    from fpgatag.fpga.convert import load_model_like
    from fpgatag.fpga.rtl import read_manifest, require_da4ml

    manifest = read_manifest(rtl_dir)
    require_da4ml()
    rtlsim.require_verilator()
    loaded = load_model_like(model, weights)
    if [int(d) for d in loaded.model.inputs[0].shape[1:]] != manifest["input_shape"]:
        raise FpgatagError(f"{rtl_dir}: RTL built for input shape {tuple(manifest['input_shape'])}, the model takes "
                           f"{tuple(int(d) for d in loaded.model.inputs[0].shape[1:])}")
    loaded.input_precision = tuple(manifest["input_precision"])
    x, labels = load_data(data, loaded, int(n))
    if len(x) == 0:
        raise FpgatagError("data: no jets to validate on")
    return loaded, x, labels, manifest


def _rtl_local(rtl_dir, x: np.ndarray, workers: int, sim_opt: str = "O0") -> tuple[np.ndarray, dict[str, Any]]:
    """The RTL's outputs for ``x`` simulated in this process on ``workers`` threads, and the run's facts."""
    from fpgatag.fpga import rtlsim

    with tempfile.TemporaryDirectory(prefix="fpgatag-rtlsim-") as tmp:
        sim = rtlsim.RTLSimulator(rtl_dir, tmp, threads=workers, opt=sim_opt)
        sim.build()
        t0 = time.perf_counter()
        y_rtl = sim.predict(x)
        t_sim = time.perf_counter() - t0
        info = rtlsim.info(sim)
    return y_rtl, {"jets_per_s": len(x) / t_sim if t_sim > 0 else None, "compile_s": info["build_s"],
                   "rtlsim_s": t_sim, "workers": int(workers), "verilator": info["verilator"], "sim_opt": sim_opt}


def rtl_chunk(spec: dict[str, Any], x: np.ndarray) -> dict[str, Any]:
    """Verilator-simulate one chunk of jets (runs in a worker; the RTL is unpacked and built once per
    archive hash per worker process, see :func:`fpgatag.fpga.rtlsim.cached_simulator`)."""
    import socket

    from fpgatag.fpga import rtlsim

    sim, lock, built = rtlsim.cached_simulator(spec["archive"], spec["sha256"], threads=1, opt=spec.get("sim_opt", rtlsim.DEFAULT_OPT))
    with lock:
        y = sim.predict(x)
    return {"y": y, "worker": f"{socket.gethostname()}:{os.getpid()}", "built": built,
            "build_s": sim.build_s if built else 0.0, "verilator": sim.verilator["version"]}


def _rtl_chunks(engine, rtl_dir, x: np.ndarray, chunk_jets: int, sim_opt: str = "O0") -> tuple[np.ndarray, dict[str, Any]]:
    """The RTL's outputs for ``x`` in chunks of ``chunk_jets`` on the engine's workers, in jet order, and
    the run's facts: the engine, its slots, the chunks, and each worker's build time."""
    import functools

    from fpgatag.core.executor import map_ordered
    from fpgatag.fpga import rtlsim

    if int(chunk_jets) < 1:
        raise ArgumentError("chunk_jets", f" {chunk_jets}: must be >= 1")
    archive, digest = rtlsim.pack_rtl(rtl_dir)   # workers need no file system shared with this process
    chunks = [x[i:i + int(chunk_jets)] for i in range(0, len(x), int(chunk_jets))]
    log.info("validate --rtl: %d jets in %d chunk(s) on %s (RTL archive %d bytes, sha256 %s)", len(x), len(chunks),
             engine.description, len(archive), digest[:12])
    t0 = time.perf_counter()
    spec = {"archive": archive, "sha256": digest, "sim_opt": sim_opt}
    outs = list(map_ordered(engine, functools.partial(rtl_chunk, spec), chunks))
    t_sim = time.perf_counter() - t0
    builds = {o["worker"]: o["build_s"] for o in outs if o["built"]}
    return np.concatenate([o["y"] for o in outs]), {
        "jets_per_s": len(x) / t_sim if t_sim > 0 else None, "compile_s": max(builds.values(), default=0.0),
        "rtlsim_s": t_sim, "workers": engine.slots, "engine": engine.description, "chunks": len(chunks),
        "chunk_jets": int(chunk_jets), "build_s_per_worker": builds, "builds": len(builds),
        "chunks_per_worker": dict(collections.Counter(o["worker"] for o in outs)),
        "verilator": outs[0]["verilator"], "sim_opt": sim_opt, "rtl_archive_bytes": len(archive), "rtl_archive_sha256": digest,
        "timing": "rtlsim_s and jets_per_s: wall time of all chunks, the workers' first-use builds included"}


def _finish(result: dict[str, Any], output, settings: dict[str, Any]) -> dict[str, Any]:
    failures = []
    if result["bit_exact_fraction"] < settings["min_bit_exact"]:
        failures.append(f"bit_exact_fraction {result['bit_exact_fraction']:.4f} < {settings['min_bit_exact']}")
    if result["argmax_agreement"] < settings["min_argmax"]:
        failures.append(f"argmax_agreement {result['argmax_agreement']:.4f} < {settings['min_argmax']}")
    result["passed"] = not failures
    result["failures"] = failures
    result["provenance"] = provenance(settings)
    if output is not None:
        out = Path(output)
        write_json(out if out.suffix == ".json" else out / "validate.json", result)
    return result


def summary_table(result: dict[str, Any]) -> str:
    classes = ((result.get("metrics_keras") or {}).get("confusion") or {}).get("classes") or []
    text = format_table([result], SUMMARY_COLUMNS + (["accuracy_keras", "accuracy_hls"] if len(classes) > 2 else []))
    if result.get("profile"):
        text += "\n\n" + format_table(result["profile"], PROFILE_COLUMNS)
    return text
