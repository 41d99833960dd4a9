"""Benchmark: teacher training throughput, fpgatag's Keras ParticleNet vs weaver-core's PyTorch ParticleNet.

CPU mode (default): training jets/s (forward + backward + optimizer step, inputs already in memory)
of ``particlenet-lite`` and ``particlenet`` at batch 256 with 100 particles, side by side in the
same run with weaver-core's ``ParticleNet`` of the same sizes (``use_fusion=False``, as in the
paper), run in a separate virtual environment ``bench/.venv-peer`` that this script creates when
missing (``pip install torch==2.13.0`` - a CPU wheel - then ``pip install weaver-core``). The peer
is measured with its sequence trimming off (the same work as ours) and, for reference, on
(weaver's default: it drops padding beyond the batch's longest jets).

GPU mode (``--gpu``): milliseconds per jet per epoch of a full training epoch on the GPU (fp32 and
mixed precision), against the 3.6 ms/jet/epoch quoted for ParticleNet on an RTX 2080 Ti (goal: at
least 20x better, i.e. <= 0.18 ms).

Inputs: real jets from ``--data`` (default /tmp/fpgatag-data/dev.h5 when it exists) prepared with
the preset's input spec, else synthetic zero-padded jets (Gaussian features, multiplicity ~ N(50, 20)).

Writes bench/results/teacher.json and .md (teacher-gpu.* with --gpu).

    python bench/bench_teacher.py --quick          # ~5 minutes of 2 CPU cores
    python bench/bench_teacher.py --gpu            # on a GPU machine
    python bench/bench_teacher.py --render bench/results/teacher.json   # only rewrite teacher.md
"""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import _common as C   # the repository on sys.path

HERE = Path(__file__).resolve().parent
PEER_VENV = HERE / ".venv-peer"
PEER_SCRIPT = HERE / "peer_weaver_particlenet.py"
PEER_PACKAGES = (["torch==2.13.0"], ["weaver-core"])
DEFAULT_DATA = Path("/tmp/fpgatag-data/dev.h5")
REFERENCE_MS_PER_JET = 3.6  # ms/jet/epoch quoted for ParticleNet trained on an RTX 2080 Ti

log = logging.getLogger("fpgatag.bench.teacher")


def peer_python() -> Path:
    return PEER_VENV / "bin" / "python"


def ensure_peer_venv() -> tuple[Path | None, str | None]:
    """Create bench/.venv-peer with torch and weaver-core when missing: (python, error)."""
    py = peer_python()
    if py.exists():
        check = subprocess.run([str(py), "-c", "import torch, weaver.nn.model.ParticleNet"], capture_output=True, text=True)
        if check.returncode == 0:
            return py, None
    log.info("creating the peer environment %s (torch 2.13.0 CPU + weaver-core)", PEER_VENV)
    base = os.environ.get("PEER_PYTHON", "python3.11")
    try:
        subprocess.run([base, "-m", "venv", str(PEER_VENV)], check=True)
        for pkgs in PEER_PACKAGES:
            subprocess.run([str(py), "-m", "pip", "install", "--quiet", *pkgs], check=True)
        subprocess.run([str(py), "-c", "import torch, weaver.nn.model.ParticleNet"], check=True)
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        return None, f"peer environment could not be installed: {exc}"
    return py, None


def make_inputs(preset: str, n_jets: int, n_particles: int, data: Path | None, seed: int = 0):
    """(x, y, description): zero-padded inputs (n_jets, P, F) for ``preset``."""
    from fpgatag.nn.inputs import InputSpec
    from fpgatag.nn.presets import load_preset
    from fpgatag.train.data import as_source, fit_inputs, load_arrays

    spec = InputSpec.from_dict(load_preset(preset)["inputs"])
    spec.n_objects = n_particles
    if data is not None and data.exists():
        source = as_source(data)
        rows = np.arange(source.n_jets)
        fit_inputs(source, spec, rows)
        x, y = load_arrays(source, spec, rows)
        reps = int(np.ceil(n_jets / len(y)))
        x, y = np.concatenate([x] * reps)[:n_jets], np.concatenate([y] * reps)[:n_jets]
        perm = np.random.default_rng(seed).permutation(n_jets)
        mult = float(np.mean(np.any(x != 0, axis=-1).sum(axis=1)))
        return x[perm], y[perm], f"{data} ({source.n_jets} jets, mean {mult:.1f} real particles of {n_particles})"
    rng = np.random.default_rng(seed)
    n_real = np.clip(rng.normal(50, 20, n_jets).astype(int), 5, n_particles)
    x = rng.normal(size=(n_jets, n_particles, len(spec.features))).astype(np.float32)
    x[np.arange(n_particles)[None, :] >= n_real[:, None]] = 0.0
    return x, rng.integers(0, 2, n_jets).astype(np.int32), f"synthetic (mean {n_real.mean():.1f} real particles of {n_particles})"


def ours_throughput(preset: str, x, y, batch_size: int, steps: int, warmup: int, mixed: bool = False,
                    jit: bool = False) -> dict:
    """Training jets/s of fpgatag's Keras model (same loop as train-teacher: model.fit over tf.data)."""
    import tensorflow as tf

    from fpgatag.nn.presets import get_builder, load_preset

    p = load_preset(preset)
    prev = tf.keras.mixed_precision.global_policy()
    tf.keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    try:
        tf.keras.utils.set_random_seed(0)
        model = get_builder(p["builder"])(x.shape[1:], 2, **p["params"])
        model.compile(optimizer=tf.keras.optimizers.Adam(1e-3), loss=tf.keras.losses.SparseCategoricalCrossentropy(),
                      jit_compile=jit)
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size, drop_remainder=True).repeat().prefetch(2)
        model.fit(ds, steps_per_epoch=warmup, epochs=1, verbose=0)
        t0 = time.perf_counter()
        model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
        dt = time.perf_counter() - t0
    finally:
        tf.keras.mixed_precision.set_global_policy(prev)
    n_params = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    return {"framework": f"tensorflow {tf.__version__} (fpgatag)", "preset": preset, "batch_size": batch_size,
            "steps": steps, "seconds": dt, "jets_per_second": steps * batch_size / dt, "n_parameters": n_params,
            "mixed_precision": mixed, "jit_compile": jit}


def ours_epoch(preset: str, x, y, batch_size: int, mixed: bool) -> dict:
    """One full training epoch (after a warm-up epoch) on whatever device TensorFlow uses: ms/jet/epoch."""
    import tensorflow as tf

    from fpgatag.nn.presets import get_builder, load_preset

    p = load_preset(preset)
    prev = tf.keras.mixed_precision.global_policy()
    tf.keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    try:
        model = get_builder(p["builder"])(x.shape[1:], 2, **p["params"])
        model.compile(optimizer=tf.keras.optimizers.Adam(1e-3), loss=tf.keras.losses.SparseCategoricalCrossentropy())
        ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(y), seed=0).batch(batch_size).prefetch(tf.data.AUTOTUNE)
        model.fit(ds, epochs=1, verbose=0)  # warm-up: tracing, autotuning
        t0 = time.perf_counter()
        model.fit(ds, epochs=1, verbose=0)
        dt = time.perf_counter() - t0
    finally:
        tf.keras.mixed_precision.set_global_policy(prev)
    return {"preset": preset, "batch_size": batch_size, "mixed_precision": mixed, "n_jets": int(len(y)),
            "epoch_seconds": dt, "ms_per_jet_per_epoch": 1000.0 * dt / len(y), "jets_per_second": len(y) / dt,
            "speedup_vs_reference": REFERENCE_MS_PER_JET / (1000.0 * dt / len(y))}


def peer_throughput(py: Path, inputs: Path, preset: str, batch_size: int, steps: int, warmup: int, trim: bool) -> dict:
    cmd = [str(py), str(PEER_SCRIPT), "--inputs", str(inputs), "--preset", preset, "--batch-size", str(batch_size),
           "--steps", str(steps), "--warmup", str(warmup)] + (["--trim"] if trim else [])
    proc = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _load() -> list[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def run_cpu(args) -> dict:
    plan = {"particlenet-lite": (10, 2) if args.quick else (40, 5), "particlenet": (4, 2) if args.quick else (15, 3)}
    plan = {k: v for k, v in plan.items() if k in args.models}
    if args.steps:
        plan = {k: (args.steps, w) for k, (_, w) in plan.items()}
    py, peer_error = (None, "skipped (--no-peer)") if args.no_peer else ensure_peer_venv()
    rows, inputs_desc = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for preset, (steps, warmup) in plan.items():
            n = args.batch_size * 8
            x, y, inputs_desc = make_inputs(preset, n, args.n_particles, args.data)
            npz = Path(tmp) / f"{preset}.npz"
            np.savez(npz, x=x, y=y)
            load0 = _load()
            r = ours_throughput(preset, x, y, args.batch_size, steps, warmup)
            r.update(implementation="fpgatag (Keras)", load_before=load0)
            rows.append(r)
            log.info("%s fpgatag: %.1f jets/s", preset, r["jets_per_second"])
            if py is not None:
                variants = [False] + ([True] if preset == "particlenet-lite" or not args.quick else [])
                for trim in variants:
                    try:
                        r = peer_throughput(py, npz, preset, args.batch_size, steps, warmup, trim)
                    except subprocess.CalledProcessError as exc:
                        peer_error = f"peer run failed: {exc.stderr.strip().splitlines()[-1] if exc.stderr else exc}"
                        break
                    r.update(implementation="weaver-core (PyTorch)" + (", trimmed" if trim else ""), load_before=_load())
                    rows.append(r)
                    log.info("%s weaver%s: %.1f jets/s", preset, " (trim)" if trim else "", r["jets_per_second"])
    return {"mode": "cpu", "inputs": inputs_desc, "rows": rows, "peer_error": peer_error}


def run_gpu(args) -> dict:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    n = args.jets or (20000 if args.quick else 100000)
    rows = []
    for preset in args.models:
        x, y, desc = make_inputs(preset, n, args.n_particles, args.data)
        for mixed in (False, True) if gpus else (False,):  # float16 on a CPU is emulated and very slow
            r = ours_epoch(preset, x, y, args.batch_size, mixed)
            rows.append(r)
            log.info("%s mixed=%s: %.4f ms/jet/epoch", preset, mixed, r["ms_per_jet_per_epoch"])
    return {"mode": "gpu", "gpus": [g.name for g in gpus], "inputs": desc, "rows": rows,
            "reference_ms_per_jet_per_epoch": REFERENCE_MS_PER_JET, "goal_ms_per_jet_per_epoch": REFERENCE_MS_PER_JET / 20}


def markdown(res: dict) -> str:
    from fpgatag.core.metrics import format_table

    head = [f"# Teacher training throughput ({res['mode'].upper()})", "",
            f"- host: {res['host']}, {res['cpus']} CPUs, {res['time_utc']}", f"- inputs: {res['inputs']}",
            f"- batch {res['batch_size']}, {res['n_particles']} particles; quick={res['quick']}"]
    if res["mode"] == "cpu":
        rows = [{"model": r["preset"], "implementation": r["implementation"], "jets/s": round(r["jets_per_second"], 1),
                 "params": r["n_parameters"], "steps": r["steps"], "load avg": r.get("load_before", [""])[0] if r.get("load_before") else ""}
                for r in res["rows"]]
        body = format_table(rows, ["model", "implementation", "jets/s", "params", "steps", "load avg"])
        ratio = []
        for preset in ("particlenet-lite", "particlenet"):
            ours = [r for r in res["rows"] if r["preset"] == preset and r["implementation"].startswith("fpgatag")]
            peer = [r for r in res["rows"] if r["preset"] == preset and r["implementation"] == "weaver-core (PyTorch)"]
            if ours and peer:
                ratio.append(f"- {preset}: fpgatag / weaver = {ours[0]['jets_per_second'] / peer[0]['jets_per_second']:.2f}x")
        if res.get("peer_error"):
            ratio.append(f"- peer: {res['peer_error']}")
        note = ["", "Training steps (forward, backward, optimizer) on in-memory inputs, after warm-up steps; both "
                "implementations use all CPU cores, one after the other in the same run. 'load avg' is the "
                "1-minute load average before each measurement: on a machine shared with other jobs the "
                "absolute numbers are pessimistic and noisy, compare the ratios."]
        return "\n".join(head + ["", body, ""] + ratio + note) + "\n"
    rows = [{"model": r["preset"], "mixed precision": r["mixed_precision"], "jets": r["n_jets"],
             "ms/jet/epoch": round(r["ms_per_jet_per_epoch"], 5), "x vs 3.6 ms": round(r["speedup_vs_reference"], 1)}
            for r in res["rows"]]
    return "\n".join(head + [f"- GPUs: {res['gpus']}", "",
                             format_table(rows, ["model", "mixed precision", "jets", "ms/jet/epoch", "x vs 3.6 ms"]),
                             "", f"Goal: <= {res['goal_ms_per_jet_per_epoch']:.3f} ms/jet/epoch (20x better than 3.6)."]) + "\n"


def render(json_path: Path) -> str:
    """Re-render the Markdown of a stored result."""
    return markdown(json.loads(Path(json_path).read_text()))


def main(argv=None) -> int:
    ap = C.parser(__doc__, None)
    ap.add_argument("--quick", action="store_true", help="few steps (about 5 minutes on 2 CPU cores)")
    ap.add_argument("--gpu", action="store_true", help="measure ms/jet/epoch on the GPU instead")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA if DEFAULT_DATA.exists() else None,
                    help="jet file for realistic inputs (default: synthetic jets)")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--n-particles", type=int, default=100)
    ap.add_argument("--steps", type=int, default=None, help="timed training steps per model (CPU mode)")
    ap.add_argument("--no-peer", action="store_true", help="skip weaver-core")
    ap.add_argument("--models", nargs="+", default=["particlenet-lite", "particlenet"],
                    choices=["particlenet-lite", "particlenet"], help="presets to measure")
    ap.add_argument("--jets", type=int, default=None, help="jets per epoch in --gpu mode (default 100k, 20k with --quick)")
    ap.add_argument("--render", type=Path, default=None, metavar="JSON",
                    help="only rewrite the Markdown from this teacher.json (or teacher-gpu.json)")
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    C.start(args)
    name = "teacher-gpu" if args.gpu else "teacher"
    if args.render is not None:
        C.write(args.out, args.render.stem, None, render(args.render))
        return 0
    res = run_gpu(args) if args.gpu else run_cpu(args)
    res.update(host=platform.node(), cpus=os.cpu_count(), time_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               batch_size=args.batch_size, n_particles=args.n_particles, quick=args.quick)
    C.write(args.out, name, res, markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
