"""``fpgatag bench-l1``: the Level-1 community benchmark (hls4ml LHC jet protocol, five classes) on one file.

For each N of ``n_objects`` (default 8, 16, 32) the benchmark trains Deep Sets students on the N
hardest trigger-view objects, from scratch and distilled from one teacher (ParticleNet-Lite on all
constituents), for several seeds; the MLP on jet-level features once; the first seed of every
student goes through ``synth --part xcvu9p`` (hls4ml project, fpgatag's estimate), the RTL flow
(da4ml Verilog; netlist LUTs predicted from da4ml's cost) where it accepts the model, and C-simulation
``validate``; with ``rtl_check`` also Yosys netlist counts and Verilator bit-exactness of the RTL
(:mod:`fpgatag.report.l1bench_rtl`), with ``hls=False`` without the hls4ml project. N is checked
against the objects the file stores before any work. One table (Markdown and JSON) puts fpgatag's
rows beside the published taggers:

* published rows are marked ``published, other sample``;
* fpgatag's rows say ``same sample: comparable`` on the public hls4ml file (the reader's format
  ``hls4ml``) and ``generated sample: not comparable`` otherwise.

Inputs: on a file that holds the dataset's own inputs (a public hls4ml file, or a native file with
the group ``/hls4ml`` that ``fpgatag views --hls4ml-inputs`` adds) the default presets are replaced
by their hls4ml-input versions (``HLS4ML_PRESETS``: the Deep Sets students read the N hardest of
``constituents_3``, the MLP the 16 ``jet_features``), as the published taggers do; on other files
they read the trigger view. Every row records the inputs it was trained on.

Figures carry their sample size and uncertainty: accuracy is the seed mean with the binomial sd on
the N test jets (and the sd over seeds where there are several); resources and latency carry the
estimator's out-of-sample error (``fpgatag.report.plots.ESTIMATE_REL_ERROR``; for the RTL netlist
prediction, the fit's leave-one-out error). Every step writes its own directory under ``out``
atomically; with ``reuse`` a finished step (its directory holds its result file) is not redone.
"""

from __future__ import annotations

import dataclasses
import logging
from functools import partial
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from fpgatag.core.errors import FpgatagError
from fpgatag.core.io import atomic_path, read_json, to_json
from fpgatag.report.l1bench_rtl import pm_cell

log = logging.getLogger(__name__)

PUBLISHED_NOTE = "published, other sample"
COMPARABLE = "same sample: comparable"
NOT_COMPARABLE = "generated sample: not comparable"

# The published Level-1 taggers on the hls4ml LHC jet dataset, as quoted side by side with fpgatag's rows.
PUBLISHED = [
    {"tagger": "Deep Sets, QKeras 8-bit (arXiv:2402.01876)", "N": "8 / 16 / 32", "accuracy": "64.0 / 69.4 / 75.9 %",
     "latency": "95 / 115 / 130 ns", "II": "3 / 3 / 2", "LUT": "HLS synthesis estimates", "DSP": ""},
    {"tagger": "JEDI-linear (post-route, 0 DSP)", "N": "16 / 32 / 64", "accuracy": "72.0 / 78.0 / 80.9 %",
     "latency": "54 / 63 / 61 ns", "II": "1", "LUT": "44k / 45k / 71k", "DSP": "0"},
    {"tagger": "MLP on 16 jet features (hls4ml baseline)", "N": "-", "accuracy": "about 75 %",
     "latency": "45-55 ns", "II": "1", "LUT": "", "DSP": ""},
]
RTL_REFUSED = "rtl_refused.json"
KIND = "bench-l1"   # the output marker of a benchmark directory
COLUMNS = ["tagger", "N", "inputs", "accuracy", "latency", "II", "LUT", "FF", "DSP", "firmware", "bit-exact", "sample"]
# default preset -> its version on the hls4ml LHC jet dataset's own inputs (files that hold them)
# (the teacher too: the public file holds the constituents' kinematics only, no particle identification)
HLS4ML_PRESETS = {"deepsets-l1": "deepsets-hls4ml", "mlp": "mlp-hls4ml", "particlenet-lite": "particlenet-lite-hls4ml"}


@dataclasses.dataclass
class L1BenchConfig:
    data: Path
    out: Path = Path("runs/bench-l1")
    n_objects: tuple[int, ...] = (8, 16, 32)
    seeds: tuple[int, ...] = (1, 2, 3)
    teacher: str = "particlenet-lite"
    teacher_epochs: int | None = None   # None: the preset's
    teacher_particles: int | None = None
    student: str = "deepsets-l1"
    student_epochs: int | None = None
    alpha: float = 0.1                  # distilled students: weight of the label term (train.distill's default)
    temperature: float = 2.0            # distilled students: temperature (train.distill's default)
    mlp: str | None = "mlp"             # None: no MLP baseline
    part: str = "xcvu9p"
    rtl: bool = True
    rtl_check: bool = False             # Yosys netlist and Verilator bit-exactness of the RTL (l1bench_rtl)
    yosys_jobs: int = 1                 # Yosys processes per design (> 1: per pipeline stage)
    yosys_timeout_s: float | None = None
    hls: bool = True                    # False (with rtl_check): no hls4ml project and C simulation
    validate_n: int = 1000
    signal: str | None = None
    reuse: bool = False
    inputs: str = "auto"   # "auto": HLS4ML_PRESETS on files with the hls4ml inputs; "as-given": the presets named


@dataclasses.dataclass
class Step:
    name: str
    done: Path                       # the file a finished step leaves
    run: Callable[[], Any]
    done_else: Path | None = None    # or this one (a step that may end in a recorded refusal or failure)
    needed: Callable[[], bool] | None = None   # asked when the step comes: False skips it (not run, not reused)

    def finished(self) -> bool:
        from fpgatag.report.l1bench_rtl import RETRY

        if self.done.is_file():
            return True
        if self.done_else is None or not self.done_else.is_file():
            return False
        return not bool(read_json(self.done_else, "step record").get(RETRY))   # a missing tool: retried


def plan(cfg: L1BenchConfig, yosys=None) -> list[Step]:
    """Every step of the benchmark, in order (teacher, its logits, students, firmware, validation);
    ``yosys``: the :class:`~fpgatag.report.l1bench_rtl.YosysQueue` of ``rtl_check``."""
    from fpgatag.train.distill import train_student
    from fpgatag.train.soft_targets import teacher_predict
    from fpgatag.train.teacher import train_teacher

    out, data = Path(cfg.out), Path(cfg.data)
    teacher, logits = out / "teacher", out / "teacher_logits.h5"
    steps = [Step("teacher", teacher / "metrics.json", lambda: train_teacher(
                 data, model=cfg.teacher, out_dir=teacher, epochs=cfg.teacher_epochs, seed=cfg.seeds[0],
                 n_particles=cfg.teacher_particles, signal=cfg.signal)),
             Step("teacher logits", logits, lambda: teacher_predict(teacher, data, output=logits))]
    for n in cfg.n_objects:
        for seed in cfg.seeds:
            for kind in ("scratch", "distilled"):
                run = student_dir(out, n, kind, seed)
                tdir = teacher if kind == "distilled" else None
                steps.append(Step(f"N={n} {kind} seed {seed}", run / "metrics.json", partial(
                    train_student, data, student=cfg.student, n_objects=n, out_dir=run, teacher_dir=tdir,
                    logits_file=logits if tdir else None, epochs=cfg.student_epochs, seed=seed, signal=cfg.signal,
                    **({"alpha": cfg.alpha, "temperature": cfg.temperature} if tdir else {}))))
            if seed == cfg.seeds[0]:
                steps += firmware_steps(cfg, [student_dir(out, n, k, seed) for k in ("scratch", "distilled")], yosys)
    if cfg.mlp is None:
        return steps
    mlp = out / "mlp"
    steps.append(Step("MLP", mlp / "metrics.json", partial(
        train_student, data, student=cfg.mlp, n_objects=None, out_dir=mlp, teacher_dir=None,
        epochs=cfg.student_epochs, seed=cfg.seeds[0], signal=cfg.signal)))
    return steps + firmware_steps(cfg, [mlp], yosys)


def student_dir(out: Path, n: int, kind: str, seed: int) -> Path:
    return Path(out) / f"n{n}" / f"{kind}-s{seed}"


def firmware_steps(cfg: L1BenchConfig, runs: list[Path], yosys=None) -> list[Step]:
    """synth (hls4ml, estimate), the RTL flow (da4ml), C-simulation validate of each run; with
    ``rtl_check`` Yosys (queued on ``yosys``) and Verilator on the RTL; without ``hls`` the hls4ml
    project only where the RTL flow refused the model (its row's figures)."""
    from fpgatag.fpga.synth import synth
    from fpgatag.fpga.validate import validate
    from fpgatag.report.l1bench_rtl import RTLSIM_FAILED, YOSYS_FAILED, rtl_sim

    steps = []
    for run in runs:
        label = f"{run.parent.name}/{run.name}" if run.parent != Path(cfg.out) else run.name
        has_rtl, refused = (run / "rtl" / "manifest.json").is_file, (run / RTL_REFUSED).is_file
        hls = Step(f"{label} synth", run / "hls" / "estimate.json", partial(synth, run, part=cfg.part, output_dir=run / "hls"))
        if cfg.hls:
            steps.append(hls)
        if cfg.rtl:
            steps.append(Step(f"{label} rtl", run / "rtl" / "manifest.json", partial(_rtl, cfg, run),
                              run / RTL_REFUSED))
        if not cfg.hls:   # the fallback of a model the RTL flow does not build
            steps.append(dataclasses.replace(hls, name=f"{label} synth (RTL refused)", needed=refused))
        if cfg.hls:
            steps.append(Step(f"{label} validate", run / "validate.json", partial(
                validate, run, cfg.data, n=cfg.validate_n, output=run / "validate.json", part=cfg.part)))
        if cfg.rtl_check:
            steps.append(Step(f"{label} yosys (background)", run / "rtl" / "synth.json", partial(yosys.submit, run),
                              run / "rtl" / YOSYS_FAILED, needed=has_rtl))
            steps.append(Step(f"{label} rtl sim (Verilator)", run / "rtl" / "validate.json",
                              partial(rtl_sim, run, cfg.data, cfg.validate_n), run / "rtl" / RTLSIM_FAILED, needed=has_rtl))
    return steps


def _rtl(cfg: L1BenchConfig, run: Path) -> None:
    """da4ml RTL of ``run`` (estimate and netlist prediction only), or a note where the flow refuses it."""
    from fpgatag.core.io import write_json
    from fpgatag.fpga.rtl_flow import synth_rtl

    try:
        synth_rtl(run, part=cfg.part, output_dir=run / "rtl", yosys=False, hls_estimate=False)
    except FpgatagError as exc:   # a layer the RTL flow does not build: the row keeps its hls4ml figures
        log.warning("%s: RTL flow not applicable: %s", run, exc)
        write_json(run / RTL_REFUSED, {"reason": str(exc)})


def has_hls4ml_inputs(src) -> bool:
    """Whether a jet source holds the hls4ml dataset's own inputs (public hls4ml file, or group /hls4ml).
    Other public formats compute them on the fly per read, far too slow to train on: they count as not."""
    return getattr(src, "format", None) == "hls4ml" or bool(getattr(src, "has_hls4ml", False))


def resolve_presets(cfg: L1BenchConfig, has_inputs: bool) -> L1BenchConfig:
    """``cfg`` with the student and MLP presets the file's inputs call for; a preset on the hls4ml inputs
    asked for on a file without them is refused in one line naming /hls4ml and the command that adds it."""
    from fpgatag.data.hls4ml import HLS4ML_GROUP, HOW_TO_ADD
    from fpgatag.nn.inputs import HLS4ML_KINDS
    from fpgatag.nn.presets import load_preset

    if cfg.inputs not in ("auto", "as-given"):
        raise FpgatagError(f"bench-l1: inputs must be 'auto' or 'as-given', got {cfg.inputs!r}")
    if cfg.inputs == "auto" and has_inputs:
        cfg = dataclasses.replace(cfg, student=HLS4ML_PRESETS.get(cfg.student, cfg.student),
                                  mlp=None if cfg.mlp is None else HLS4ML_PRESETS.get(cfg.mlp, cfg.mlp),
                                  teacher=HLS4ML_PRESETS.get(cfg.teacher, cfg.teacher))
    for name, role in ((cfg.student, "student"), (cfg.mlp, "student"), (cfg.teacher, "teacher")):
        if name is not None and not has_inputs and load_preset(name, role=role)["inputs"].get("kind") in HLS4ML_KINDS:
            raise FpgatagError(f"{cfg.data}: preset {name} reads the hls4ml inputs, the file has none (group "
                               f"/{HLS4ML_GROUP} is missing); add them with `{HOW_TO_ADD.replace('FILE', str(cfg.data))}`")
    return cfg


def run_bench(cfg: L1BenchConfig) -> dict[str, Any]:
    """Run (or, with ``reuse``, continue) the benchmark; write ``bench.md`` and ``bench.json``; return the JSON."""
    from fpgatag.core.metrics import signal_index
    from fpgatag.data.io import open_jets

    check_config(cfg)
    with open_jets(cfg.data) as src:     # cheap checks first: the file, its classes, the signal name, N
        classes, fmt, attrs = list(src.classes), getattr(src, "format", "?"), dict(src.attrs or {})
        labels = np.asarray(src.labels()).astype(int)
        has_inputs = has_hls4ml_inputs(src)
        signal_index(classes, cfg.signal, where=str(cfg.data))
        cfg = resolve_presets(cfg, has_inputs)
        warnings = check_objects(cfg, src)
    from fpgatag.core.io import write_marker

    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    write_marker(cfg.out, KIND)
    t0 = time.perf_counter()
    ran, reused = _run_steps(cfg)
    result = collect_results(cfg, classes, fmt, attrs, labels, has_inputs)
    result["steps_run"], result["steps_reused"], result["warnings"] = ran, reused, warnings
    result["wall_s"] = round(time.perf_counter() - t0, 1)   # of this invocation (reused steps cost nothing)
    out = Path(cfg.out)
    with atomic_path(out / "bench.json") as tmp:
        tmp.write_text(to_json(result))
    with atomic_path(out / "bench.md") as tmp:
        tmp.write_text(format_bench(result))
    return result


def _run_steps(cfg: L1BenchConfig) -> tuple[list[str], list[str]]:
    """Run the plan's steps (skipping finished ones with ``reuse``); wait for the background Yosys
    runs; return the names of the steps run and reused."""
    from fpgatag.core.logs import progress
    from fpgatag.fpga.parts import resolve_part
    from fpgatag.report.l1bench_rtl import YosysQueue

    yosys = YosysQueue(resolve_part(cfg.part), cfg.yosys_jobs, cfg.yosys_timeout_s) if cfg.rtl_check else None
    steps = plan(cfg, yosys)
    bar = progress(total=len(steps), desc="bench-l1", unit="step")
    ran, reused = [], []
    try:
        for step in steps:
            bar.set_postfix_str(step.name)
            if step.needed is not None and not step.needed():
                log.info("bench-l1: %s: not needed", step.name)
            elif cfg.reuse and step.finished():
                log.info("bench-l1: %s: reused (%s)", step.name, step.done)
                reused.append(step.name)
            else:
                step.run()
                ran.append(step.name)
            bar.update(1)
        if yosys is not None:
            bar.set_postfix_str("waiting for Yosys")
            yosys.join()
    except BaseException:   # interrupted or failed: the queued Yosys runs are dropped (--reuse does them)
        if yosys is not None:
            yosys.cancel()
        raise
    finally:
        bar.close()
    return ran, reused


def check_config(cfg: L1BenchConfig) -> None:
    """Refuse settings that contradict each other, before any work."""
    from fpgatag.fpga.parts import resolve_part
    from fpgatag.fpga.rtl_yosys import check_jobs, family_problem

    if cfg.rtl_check and not cfg.rtl:
        raise FpgatagError("bench-l1: rtl_check (Yosys and Verilator on the RTL) needs rtl (the da4ml RTL flow)")
    if not cfg.hls and not cfg.rtl_check:
        raise FpgatagError("bench-l1: hls=False (no hls4ml project) needs rtl_check: the rows would have no firmware")
    if not (0.0 <= cfg.alpha <= 1.0 and cfg.temperature > 0):
        raise FpgatagError(f"bench-l1: alpha must be in [0, 1] and temperature > 0, got {cfg.alpha} and {cfg.temperature}")
    check_jobs(cfg.yosys_jobs, "yosys_jobs")
    if cfg.yosys_timeout_s is not None and not cfg.yosys_timeout_s > 0:
        raise FpgatagError(f"bench-l1: yosys_timeout_s must be > 0 s, got {cfg.yosys_timeout_s}")
    problem = family_problem(resolve_part(cfg.part)) if cfg.rtl_check else None
    if problem is not None:
        raise FpgatagError(f"part {cfg.part}: {problem}")


def check_objects(cfg: L1BenchConfig, src) -> list[str]:
    """The students' N against the objects ``src`` stores per jet: refused in one line where the hls4ml
    inputs hold fewer constituents than N (nothing to pad them with: the dataset stores the hardest);
    a warning (returned and logged) where a trigger view or the particles hold fewer (the rest zero)."""
    from fpgatag.core.schema import BATCH_KEYS
    from fpgatag.data.hls4ml import HLS4ML_KEYS
    from fpgatag.nn.inputs import HLS4ML_KINDS, InputSpec
    from fpgatag.nn.presets import load_preset

    _check_teacher_objects(cfg, src)
    n = max(cfg.n_objects)
    spec = InputSpec.from_dict({**load_preset(cfg.student, role="student")["inputs"], "n_objects": n},
                               where=f"preset {cfg.student}")
    if spec.kind in HLS4ML_KINDS:
        key = spec.source_keys()[0]
    elif spec.kind in ("trigger", "flat_trigger"):
        key = spec.view
    elif spec.kind in ("particles", "flat_particles"):
        key = "particles"
    else:
        return []
    stored = int(np.asarray(src.read(0, 1, keys=[key])[key]).shape[1])
    where = f"/{HLS4ML_KEYS.get(key) or BATCH_KEYS.get(key, key)}"
    above = [k for k in cfg.n_objects if k > stored]
    if not above:
        return []
    if spec.kind in HLS4ML_KINDS:
        raise FpgatagError(f"{cfg.data}: N={n} (n_objects) asks for {n} constituents, dataset {where} stores {stored} "
                           f"per jet; `fpgatag views FILE -o OUT --hls4ml-inputs --hls4ml-constituents {n}` stores more")
    warning = (f"N={', '.join(map(str, above))}: {stored} stored per jet in {where}, objects {stored + 1}-{n} are zero for every jet"
               + (f" (`fpgatag views FILE -o OUT --n-{key} {n}` stores more)" if key in ("candidates", "towers") else ""))
    log.warning("%s", warning)
    return [warning]


def _check_teacher_objects(cfg: L1BenchConfig, src) -> None:
    """A teacher on the hls4ml inputs asking for more constituents than the file stores: refused in one line."""
    from fpgatag.data.hls4ml import HLS4ML_KEYS
    from fpgatag.nn.inputs import HLS4ML_KINDS, InputSpec
    from fpgatag.nn.presets import load_preset

    inputs = load_preset(cfg.teacher, role="teacher")["inputs"]
    spec = InputSpec.from_dict({**inputs, "n_objects": cfg.teacher_particles or inputs.get("n_objects", 16)},
                               where=f"preset {cfg.teacher}")
    if spec.kind not in HLS4ML_KINDS:
        return
    key = spec.source_keys()[0]
    stored = int(np.asarray(src.read(0, 1, keys=[key])[key]).shape[1])
    if spec.n_objects > stored:
        raise FpgatagError(f"{cfg.data}: teacher {cfg.teacher} reads {spec.n_objects} constituents, dataset "
                           f"/{HLS4ML_KEYS[key]} stores {stored} per jet; give --teacher-particles {stored} or fewer")


def comparability(fmt: str) -> str:
    """What fpgatag's rows say about the published rows: the same public sample, or generated jets."""
    return COMPARABLE if fmt == "hls4ml" else NOT_COMPARABLE


def _accuracy(metrics: list[dict[str, Any]]) -> dict[str, Any]:
    """Seed mean of the accuracy with the binomial sd (mean over seeds) and the sd over seeds."""
    acc = np.array([m["accuracy"] for m in metrics], float)
    binom = float(np.mean([m.get("accuracy_err", np.sqrt(m["accuracy"] * (1 - m["accuracy"]) / m["n_test"]))
                           for m in metrics]))
    return {"accuracy": float(acc.mean()), "accuracy_err_jets": binom,
            "accuracy_sd_seeds": float(acc.std(ddof=1)) if acc.size > 1 else None,
            "accuracy_per_seed": acc.tolist(), "n_seeds": int(acc.size), "n_test": int(metrics[0]["n_test"]),
            "per_class_auc": {c: r.get("auc") for c, r in (metrics[0].get("per_class") or {}).items()},
            "per_class_auc_err": {c: r.get("auc_err") for c, r in (metrics[0].get("per_class") or {}).items()}}


def _firmware(run: Path) -> dict[str, Any]:
    """hls4ml estimate, RTL (da4ml) netlist model, Yosys counts, C and RTL simulation of a run's first-seed firmware."""
    from fpgatag.report.l1bench_rtl import rtl_records

    fw: dict[str, Any] = {}
    est = run / "hls" / "estimate.json"
    if est.is_file():
        e = read_json(est, "estimate.json")
        fw["hls"] = {k: e.get(k) for k in ("latency_cycles", "latency_ns", "ii", "lut", "dsp", "ff", "clock_ns", "part")}
    man = run / "rtl" / "manifest.json"
    if man.is_file():
        m = read_json(man, "RTL manifest")
        pred = (m.get("da4ml_estimate") or {}).get("netlist_predicted") or {}
        fw["rtl"] = {"latency_cycles": m["latency_cycles"], "latency_ns": m["latency_ns"], "ii": m["ii"],
                     "lut": pred.get("lut"), "ff": pred.get("ff"), "dsp": 0, "lut_source": "netlist model",
                     "da4ml_lut": m["da4ml_estimate"]["lut"], "da4ml_ff": m["da4ml_estimate"].get("ff")}
        fw.update(rtl_records(run))
        if "yosys" in fw:
            fw["rtl"]["lut_source"] = "Yosys netlist"
    elif (run / RTL_REFUSED).is_file():
        fw["rtl"] = {"reason": read_json(run / RTL_REFUSED, "RTL refusal").get("reason")}
    val = run / "validate.json"
    if val.is_file():
        v = read_json(val, "validate.json")
        fw["validate"] = {k: v.get(k) for k in ("n", "bit_exact_fraction", "argmax_agreement", "accuracy_keras",
                                                "accuracy_hls", "passed")}
    return fw


def inputs_of(run: Path) -> dict[str, Any] | None:
    """What a run was trained on, from its ``inputs.json``: kind, source, objects and features."""
    path = Path(run) / "inputs.json"
    if not path.is_file():
        return None
    from fpgatag.nn.inputs import InputSpec

    spec = InputSpec.from_dict(read_json(path, "inputs"), where=str(path))
    per_object = spec.kind not in ("jet", "jet_kin", "hls4ml_jet")
    source = (spec.source_keys()[0] if spec.source_keys() else
              "particles" if spec.kind.endswith("particles") else spec.kind if spec.kind in ("lund", "jet_kin")
              else f"trigger view {spec.view}")
    return {"kind": spec.kind, "source": source, "n_objects": spec.n_objects if per_object else None,
            "features": list(spec.features)}


def _inputs_cell(inputs: dict[str, Any] | None) -> str:
    if not inputs:
        return ""
    f = inputs["features"]
    where = inputs["source"] + (f", first {inputs['n_objects']}" if inputs["n_objects"] is not None else "")
    return f"{where}: " + (", ".join(f) if len(f) <= 8 else f"{len(f)} features ({f[0]}, ..., {f[-1]})")


def collect_results(cfg: L1BenchConfig, classes: list[str], fmt: str, attrs: dict[str, Any],
                    labels: np.ndarray, has_inputs: bool = False) -> dict[str, Any]:
    """bench.json: the sample, the published rows and one record per fpgatag tagger."""
    from fpgatag.train.runs import read_metrics

    out = Path(cfg.out)
    sample = comparability(fmt)
    rows: list[dict[str, Any]] = []
    teacher = read_metrics(out / "teacher")
    rows.append({"tagger": f"teacher: {teacher.get('model', cfg.teacher)}, constituents (float)", "kind": "teacher",
                 "n_objects": (read_json(out / "teacher" / "inputs.json", "inputs").get("n_objects")
                               if (out / "teacher" / "inputs.json").is_file() else None),
                 "inputs": inputs_of(out / "teacher"), **_accuracy([teacher]), "firmware": {}, "sample": sample})
    for n in cfg.n_objects:
        for kind in ("scratch", "distilled"):
            runs = [student_dir(out, n, kind, s) for s in cfg.seeds]
            rows.append({"tagger": f"Deep Sets ({cfg.student}), {kind}", "kind": kind, "n_objects": n,
                         "inputs": inputs_of(runs[0]),
                         **_accuracy([read_metrics(r) for r in runs]), "firmware": _firmware(runs[0]),
                         "bits": read_metrics(runs[0]).get("bits"), "sample": sample})
    if cfg.mlp is not None:
        mlp = read_metrics(out / "mlp")
        features = read_json(out / "mlp" / "inputs.json", "inputs").get("features")
        rows.append({"tagger": f"MLP ({cfg.mlp}) on {len(features or [])} jet features",   # named in column inputs
                     "kind": "mlp", "n_objects": None, "features": features, "inputs": inputs_of(out / "mlp"),
                     **_accuracy([mlp]),
                     "bits": mlp.get("bits"), "firmware": _firmware(out / "mlp"), "sample": sample})
    return {"data": str(cfg.data), "format": fmt, "classes": classes, "sample": sample,
            "jets_per_class": np.bincount(labels, minlength=len(classes)).tolist(), "n_jets": int(labels.size),
            "generator": attrs.get("generator") if isinstance(attrs.get("generator"), dict) else None,
            "config": {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(cfg).items()},
            "published": [dict(p, sample=PUBLISHED_NOTE) for p in PUBLISHED], "fpgatag": rows,
            "distillation_gain": distillation_gains(cfg),
            "hls4ml_inputs": has_inputs, "inputs_note": _inputs_note(cfg, has_inputs)}


def _test_predictions(runs: list[Path]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Labels and every run's predicted class on the test jets all runs share (matched by uid)."""
    from fpgatag.train.distill import PREDICTIONS

    loaded = []
    for run in runs:
        path = Path(run) / PREDICTIONS
        if not path.is_file():
            raise FpgatagError(f"{path}: no stored test predictions")
        with np.load(path) as f:
            loaded.append((np.asarray(f["uid"], np.int64), np.asarray(f["label"]), np.asarray(f["probs"]).argmax(axis=1)))
    common = loaded[0][0]
    for uid, _, _ in loaded[1:]:
        common = np.intersect1d(common, uid)
    if common.size == 0:
        raise FpgatagError(f"{runs[0]}: no test jets in common with the other students")
    out_labels, out_pred = [], []
    for uid, lab, pred in loaded:
        order = np.argsort(uid)
        idx = order[np.searchsorted(uid, common, sorter=order)]
        out_labels.append(lab[idx])
        out_pred.append(pred[idx])
    for run, lab in zip(runs[1:], out_labels[1:]):
        if not np.array_equal(lab, out_labels[0]):
            raise FpgatagError(f"{run}: its test jets carry other labels than {runs[0]}'s: not the same jets")
    return out_labels[0], out_pred


def accuracy_gain(distilled: list[Path], scratch: list[Path]) -> dict[str, Any]:
    """Accuracy of the ``distilled`` minus the ``scratch`` runs (one per seed) on their common test jets,
    with its paired uncertainty (:func:`fpgatag.core.metrics.paired_accuracy_gain`)."""
    from fpgatag.core.metrics import paired_accuracy_gain

    labels, pred = _test_predictions([Path(r) for r in [*distilled, *scratch]])
    return paired_accuracy_gain(labels, pred[:len(distilled)], pred[len(distilled):])


def distillation_gains(cfg: L1BenchConfig) -> list[dict[str, Any]]:
    """Per N: accuracy of the distilled minus the scratch students on the same test jets, with its error."""
    return [{"n_objects": n, **accuracy_gain([student_dir(Path(cfg.out), n, "distilled", s) for s in cfg.seeds],
                                             [student_dir(Path(cfg.out), n, "scratch", s) for s in cfg.seeds])}
            for n in cfg.n_objects]


def gain_rows(gains: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The printed distillation-gain table (accuracy points, one sd)."""
    rows = []
    for g in gains:
        sig = g["gain"] / g["gain_err"] if g["gain_err"] > 0 else float("inf")
        per_seed = g.get("gain_per_seed")
        rows.append({"N": str(g["n_objects"]), "seeds (d + s)": f"{g['n_seeds_distilled']} + {g['n_seeds_scratch']}",
                     "N test": str(g["n_test"]), "scratch": f"{100 * g['accuracy_scratch']:.1f} %",
                     "distilled": f"{100 * g['accuracy_distilled']:.1f} %",
                     "distilled - scratch": f"{100 * g['gain']:+.1f} +- {100 * g['gain_err']:.1f} points",
                     "sd jets": f"{100 * g['gain_err_jets']:.1f}",
                     "sd seeds": "" if g.get("gain_err_seeds") is None else f"{100 * g['gain_err_seeds']:.1f}",
                     "per seed": "" if not per_seed else " / ".join(f"{100 * v:+.1f}" for v in per_seed),
                     "significant": f"{'yes' if g['significant'] else 'no'} ({sig:+.1f} sd)"})
    return rows


GAIN_COLUMNS = ["N", "seeds (d + s)", "N test", "scratch", "distilled", "distilled - scratch", "sd jets", "sd seeds",
                "per seed", "significant"]


def _inputs_note(cfg: L1BenchConfig, has_inputs: bool) -> str:
    """Which inputs the students and the MLP read, and why."""
    from fpgatag.data.hls4ml import HLS4ML_GROUP, HOW_TO_ADD

    used = f"students {cfg.student}" + ("" if cfg.mlp is None else f", MLP {cfg.mlp}")
    if has_inputs:
        return (f"the file holds the hls4ml dataset's own inputs (constituents_3, jet_features); {used} "
                "(column inputs of each row)")
    return (f"the file holds no hls4ml inputs (group /{HLS4ML_GROUP}); {used} on the trigger view; "
            f"`{HOW_TO_ADD.replace('FILE', str(cfg.data))}` adds them, and the benchmark then uses "
            f"{', '.join(HLS4ML_PRESETS.values())}")


def _fw_cells(fw: dict[str, Any], source: str) -> dict[str, str]:
    """latency, II, LUT, DSP cells of one firmware source (``hls`` or ``rtl``), each with its error."""
    from fpgatag.report.l1bench_rtl import rtl_cells
    from fpgatag.report.plots import ESTIMATE_REL_ERROR

    f = fw.get(source) or {}
    if f.get("latency_ns") is None:
        return {}
    if source == "hls":
        return {"latency": f"{pm_cell(f['latency_ns'], ESTIMATE_REL_ERROR['latency_ns'])} ns", "II": str(f.get("ii")),
                "LUT": pm_cell(f.get("lut"), ESTIMATE_REL_ERROR["lut%"]), "FF": "" if f.get("ff") is None else f"{f['ff']:.0f}",
                "DSP": str(f.get("dsp")), "firmware": "hls4ml; LUT/FF/DSP: fpgatag estimate"}
    return {"latency": f"{f['latency_ns']:.0f} ns", "II": str(f.get("ii")), **rtl_cells(fw)}


def _acc_cell(r: dict[str, Any]) -> str:
    text = f"{100 * r['accuracy']:.1f} +- {100 * r['accuracy_err_jets']:.1f} %"
    if r.get("accuracy_sd_seeds") is not None:
        text += f", sd over {r['n_seeds']} seeds {100 * r['accuracy_sd_seeds']:.1f}"
    return text + f", N test {r['n_test']}"


def table_rows(result: dict[str, Any]) -> list[dict[str, str]]:
    """The printed table: the published rows, then one row per fpgatag tagger and firmware source."""
    rows = [dict(p) for p in result["published"]]
    for r in result["fpgatag"]:
        fw = r.get("firmware") or {}
        v = fw.get("validate") or {}
        base = {"tagger": f"fpgatag {r['tagger']}" + (f" {r['bits']}-bit" if r.get("bits") else ""),
                "N": "-" if r["n_objects"] is None else str(r["n_objects"]),
                "inputs": _inputs_cell(r.get("inputs")), "accuracy": _acc_cell(r), "sample": r["sample"],
                "bit-exact": "" if not v else f"{100 * v['bit_exact_fraction']:.1f} % of {v['n']} jets (C sim)"}
        sources = [s for s in ("hls", "rtl") if _fw_cells(fw, s)]
        if not sources:
            rows.append({**base, "firmware": "not built (teacher)" if r["kind"] == "teacher" else ""})
        for s in sources:
            row = {**base, **_fw_cells(fw, s)}
            if s == "hls" and (fw.get("rtl") or {}).get("reason"):
                row["firmware"] += " (the RTL flow refused the model, rtl_refused.json)"
            rows.append(row)
    return rows


def auc_rows(result: dict[str, Any]) -> tuple[list[dict[str, str]], list[str]]:
    """Per-class AUC rows of fpgatag's taggers, and their columns."""
    rows = []
    for r in result["fpgatag"]:
        row = {"tagger": r["tagger"], "N": "-" if r["n_objects"] is None else str(r["n_objects"])}
        for c in result["classes"]:
            a, e = r["per_class_auc"].get(c), (r.get("per_class_auc_err") or {}).get(c)
            row[f"AUC {c}"] = "" if a is None else f"{a:.3f}" + ("" if e is None else f" +- {e:.3f}")
        rows.append(row)
    return rows, ["tagger", "N"] + [f"AUC {c}" for c in result["classes"]]


def format_bench(result: dict[str, Any]) -> str:
    """bench.md: what was run on which sample, the table, and how its uncertainties were made."""
    from fpgatag.core.metrics import format_table

    per_class = ", ".join(f"{c} {n}" for c, n in zip(result["classes"], result["jets_per_class"]))
    n_test = result["fpgatag"][0]["n_test"] if result["fpgatag"] else 0
    return "\n".join([
        "# Level-1 jet-tagging benchmark (hls4ml LHC jet protocol)", "",
        f"Data: `{result['data']}` (format {result['format']}): {result['n_jets']} jets ({per_class}); "
        f"{n_test} test jets (uid-keyed split). fpgatag rows: {result['sample']}.", "",
        f"Distilled students: alpha {result['config'].get('alpha', 0.1)} (the weight of the label term), temperature "
        f"{result['config'].get('temperature', 2.0)}, from the teacher of the first row.", "",
        format_table(table_rows(result), COLUMNS), "",
        "One-vs-rest AUC of each class (first seed; +- DeLong sd; test jets per class as in the split):", "",
        format_table(*auc_rows(result)), "",
        *_gain_block(result.get("distillation_gain")),
        "accuracy: five-class argmax accuracy on the test split, the mean over training seeds +- the binomial sd "
        "on the N test jets (and the sd over seeds); the teacher and the MLP are one seed. " + firmware_note(result),
        "", f"Inputs: {result.get('inputs_note') or result.get('jet_features_note', '')}.", "",
        *[f"Warning: {w}." for w in result.get("warnings") or []],
    ])


def _gain_block(gains: list[dict[str, Any]] | None) -> list[str]:
    """The distillation-gain table with a line saying how its uncertainties were made."""
    from fpgatag.core.metrics import format_table

    if not gains:
        return []
    g = gains[0]
    return ["Distilled minus scratch accuracy on the same test jets (seed means):", "",
            format_table(gain_rows(gains), GAIN_COLUMNS), "",
            f"+- is one sd: a paired bootstrap over the test jets ({g['n_boot']} resamples, stratified by class, "
            f"seed {g['bootstrap_seed']}; column sd jets) and the standard error of the seed means (column sd seeds), "
            "in quadrature; per seed: distilled minus scratch of the same training seed; significant: the gain "
            "is above its 1-sd uncertainty.", ""]


def firmware_note(result: dict[str, Any]) -> str:
    """Where each firmware figure of the table comes from, and its uncertainty."""
    from fpgatag.fpga.rtl import NETLIST_FIT
    from fpgatag.report.l1bench_rtl import MODEL_LABEL, YOSYS_LABEL

    cfg = result["config"]
    text = (f"Firmware: the first seed of each student (and the MLP), part {cfg['part']}, clock 5 ns. "
            "hls4ml rows: the hls4ml project with fpgatag's estimator (LUT and latency +- its out-of-sample median "
            "error against Vitis HLS; FF without a measured error). da4ml RTL rows (II = 1, 0 DSP; latency exact, "
            "the pipeline's stages x 5 ns): LUT/FF from the source the firmware column names, ")
    if cfg.get("rtl_check"):
        text += (f"the {YOSYS_LABEL}, Yosys synth_xilinx counts, not Vivado and not post-route (the JEDI-linear row "
                 f"is post-route), or, where Yosys failed or is absent, the {MODEL_LABEL}")
    else:
        text += f"the {MODEL_LABEL}"
    text += (f" (+- the fit's median error, LUT {100 * NETLIST_FIT['lut_loo_median_abs_err']:.0f} % leave-one-out, "
             f"FF {100 * NETLIST_FIT['ff_median_abs_err']:.0f} %). bit-exact: the fraction of test jets (of n) whose "
             "outputs equal QKeras' bit for bit, from the C simulation of the hls4ml firmware (C sim)")
    if cfg.get("rtl_check"):
        text += " or the cycle-accurate Verilator simulation of the da4ml RTL (RTL sim)"
    return text + ". Published rows are quoted, not measured here."
