"""Five jet classes (gluon, quark, W, Z, top) through every stage, and the Level-1 benchmark command.

One small generated file (60 jets per class, the opt-in fast physics to keep it cheap) goes through
train-teacher, teacher-predict, distill, train-student, compare, synth, validate, report and
bench-l1 (continuing the same directory with --reuse). Per-class AUCs are checked against
scikit-learn's roc_auc_score on the stored test scores.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from fpgatag.cli.main import main
from fpgatag.core.errors import FpgatagError
from fpgatag.nn.inputs import quantize_fixed

CLASSES = ["gluon", "quark", "w", "z", "top"]
CACHE = Path(__file__).resolve().parent / ".cache"


@pytest.fixture(scope="session")
def five_class_file() -> Path:
    """60 jets of each of the five classes of the Level-1 benchmark (seed 4321), cached like ``jets_file``."""
    from conftest import _source_key

    from fpgatag.data.generate import generate

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"five-60-{_source_key()}.h5"
    if not path.exists():
        for old in CACHE.glob("five-*.h5"):
            old.unlink()
        generate(path, processes=tuple(CLASSES), jets_per_class=60, seed=4321, workers=2, settings={"physics": "fast"})
    return path


def _cli(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _run(capsys, *argv) -> str:
    code, out, err = _cli(capsys, *argv)
    assert code == 0, err
    return out


def _check_auc_against_sklearn(run: Path) -> dict:
    metrics = json.loads((run / "metrics.json").read_text())
    with np.load(run / "predictions.npz") as f:
        y, p = f["label"], f["probs"].astype(np.float64)
    assert metrics["classes"] == CLASSES and metrics["signal_class"] == "top"
    for c, name in enumerate(CLASSES):
        rec = metrics["per_class"][name]
        assert rec["n"] == int(np.sum(y == c))
        assert rec["auc"] == pytest.approx(roc_auc_score(y == c, p[:, c]), abs=1e-9)
        assert 0 < rec["auc_err"] < 0.5
    assert metrics["auc"] == pytest.approx(metrics["per_class"]["top"]["auc"])   # signal vs rest: top
    counts = np.asarray(metrics["confusion"]["counts"])
    assert counts.shape == (5, 5) and counts.sum() == metrics["n_test"] == y.size
    np.testing.assert_array_equal(counts.sum(axis=1), np.bincount(y, minlength=5))
    assert metrics["accuracy"] == pytest.approx(np.trace(counts) / y.size)
    a = metrics["accuracy"]
    assert metrics["accuracy_err"] == pytest.approx(np.sqrt(a * (1 - a) / y.size))
    assert set(metrics["per_background"]) == set(CLASSES) - {"top"}
    return metrics


def test_metrics_of_five_classes_match_sklearn():
    from fpgatag.core import metrics
    from fpgatag.core.metrics import classification_metrics

    rng = np.random.default_rng(3)
    y = rng.integers(0, 5, 400)
    p = rng.random((400, 5))
    p[np.arange(400), y] += rng.random(400)
    p /= p.sum(axis=1, keepdims=True)
    m = classification_metrics(y, p, signal=2, classes=CLASSES)
    for c, name in enumerate(CLASSES):
        assert m["per_class"][name]["auc"] == pytest.approx(roc_auc_score(y == c, p[:, c]), abs=1e-12)
    assert m["auc"] == pytest.approx(roc_auc_score(y == 2, p[:, 2]))
    # the rejection of gluon jets alone at eps_S = 0.5 of W jets: the W and gluon jets only, score p_W
    keep = (y == 0) | (y == 2)
    alone = metrics.rejection_at(y[keep] == 2, p[keep, 2], 0.5)[0]
    everyone = metrics.rejection_at(y == 2, p[:, 2], 0.5)[0]
    assert m["per_background"]["gluon"]["rejection_at_50"] == pytest.approx(alone) and alone != pytest.approx(everyone)
    assert m["per_background"]["gluon"]["n"] == int(np.sum(y == 0)) and "w" not in m["per_background"]


def test_binary_metrics_keep_their_keys():
    from fpgatag.core.metrics import REQUIRED_KEYS, classification_metrics

    y = np.r_[np.zeros(50), np.ones(50)].astype(int)
    s = np.r_[np.linspace(0, 0.6, 50), np.linspace(0.4, 1, 50)]
    m = classification_metrics(y, np.stack([1 - s, s], axis=1))
    assert set(REQUIRED_KEYS) <= set(m) and "per_background" not in m
    assert m["auc"] == pytest.approx(roc_auc_score(y, s)) and m["per_class"]["1"]["auc"] == pytest.approx(m["auc"])
    assert m["confusion"]["counts"] == [[50 - np.sum(s[:50] > 0.5), np.sum(s[:50] > 0.5)],
                                        [np.sum(s[50:] <= 0.5), 50 - np.sum(s[50:] <= 0.5)]]


def test_unknown_signal_class_is_one_line(capsys, five_class_file, tmp_path):
    code, out, err = _cli(capsys, "train-student", "--data", five_class_file, "--signal", "higgs", "--n-objects", 8,
                          "-o", tmp_path / "s")
    assert code != 0 and out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert "'higgs'" in err and "gluon, quark, w, z, top" in err
    assert not (tmp_path / "s").exists()


@pytest.mark.slow
def test_five_classes_end_to_end(capsys, five_class_file, tmp_path):
    data, b = five_class_file, tmp_path / "bench"
    teacher, distilled, scratch = b / "teacher", b / "n8" / "distilled-s1", b / "n8" / "scratch-s1"
    out = _run(capsys, "train-teacher", "--data", data, "--model", "dense-teacher", "--epochs", 3, "--seed", 1,
               "-o", teacher)
    assert "AUC gluon" in out and "R50 w" in out
    _check_auc_against_sklearn(teacher)
    _run(capsys, "teacher-predict", "--teacher", teacher, "--data", data, "-o", b / "teacher_logits.h5")
    common = ["--data", data, "--student", "deepsets-l1", "--n-objects", 8, "--epochs", 4, "--seed", 1]
    _run(capsys, "distill", *common, "--teacher", teacher, "--logits", b / "teacher_logits.h5", "-o", distilled)
    _run(capsys, "train-student", *common, "-o", scratch)
    for run in (distilled, scratch):
        _check_auc_against_sklearn(run)

    out = _run(capsys, "compare", teacher, distilled, scratch, "-o", tmp_path / "roc.png")
    assert "AUC top" in out and "Rejection 1/eps_B of each background class" in out
    assert (tmp_path / "roc.png").is_file()

    _run(capsys, "synth", distilled, "--part", "xcvu9p", "-o", distilled / "hls")
    _run(capsys, "validate", distilled, "--data", data, "--n", 200, "-o", distilled / "validate.json")
    val = json.loads((distilled / "validate.json").read_text())
    assert val["bit_exact_fraction"] == 1.0 and val["argmax_agreement"] == 1.0
    assert val["accuracy_hls"] == pytest.approx(val["accuracy_keras"])
    assert set(val["metrics_hls"]["per_class"]) == set(CLASSES)

    out = _run(capsys, "report", teacher, distilled, scratch, "-o", tmp_path / "report")
    md = (tmp_path / "report" / "report.md").read_text()
    assert "## Multi-class performance" in md and "AUC quark" in md and "Confusion matrix of" in md
    assert "AUC quark" in out
    for ext in ("png", "pdf"):
        assert (tmp_path / "report" / f"confusion_0.{ext}").is_file()

    # the benchmark continues the same directory: only the scratch student's firmware is still to do
    out = _run(capsys, "bench-l1", "--data", data, "-o", b, "--reuse", "--n", 8, "--seeds", 1, "--teacher",
               "dense-teacher", "--no-rtl", "--no-mlp", "--validate-n", 200)
    result = json.loads((b / "bench.json").read_text())
    assert result["steps_run"] == ["n8/scratch-s1 synth", "n8/scratch-s1 validate"]
    assert result["sample"] == "generated sample: not comparable" and result["jets_per_class"] == [60] * 5
    assert [p["sample"] for p in result["published"]] == ["published, other sample"] * 3
    kinds = {r["kind"]: r for r in result["fpgatag"]}
    assert set(kinds) == {"teacher", "scratch", "distilled"}
    assert kinds["distilled"]["accuracy"] == pytest.approx(json.loads((distilled / "metrics.json").read_text())["accuracy"])
    assert kinds["scratch"]["firmware"]["validate"]["bit_exact_fraction"] == 1.0
    gain, = result["distillation_gain"]   # paired on the same test jets: the difference of the two accuracies
    assert gain["n_objects"] == 8 and gain["n_test"] == kinds["scratch"]["n_test"]
    assert gain["gain"] == pytest.approx(kinds["distilled"]["accuracy"] - kinds["scratch"]["accuracy"])
    assert "gain_err_seeds" not in gain and gain["gain_err"] == gain["gain_err_jets"]   # one seed each
    assert "Distilled minus scratch accuracy" in (b / "bench.md").read_text()
    assert "JEDI-linear" in out and "generated sample: not comparable" in out and (b / "bench.md").is_file()


def test_rejection_with_no_background_jet_in_rounding_prints():
    """A background efficiency that rounds to no jet passing (yet is not 0) has no upper bound: printed as inf."""
    from fpgatag.core.metrics import format_rejection

    m = {"rejection_at_50": 120.0, "rejection_at_50_saturated": False, "n_background_passing_50": 0,
         "rejection_at_50_interval": [50.0, None], "n_background": 40}
    assert format_rejection(m, "50").startswith("120 [50, inf]")


@pytest.mark.parametrize("argv, fragment", [
    (["--signal", "higgs"], "'higgs'"),
    (["--n", "8", "8"], "--n and --seeds"),
    (["--student", "no-such-preset"], "no-such-preset"),
    (["--part", "xc0nothing"], "xc0nothing"),
    (["--alpha", "1.5"], "alpha=1.5"),
    (["-T", "0"], "-T"),
    (["--student", "deepsets-hls4ml"], "--hls4ml-inputs"),   # the file has no /hls4ml group
])
def test_bench_l1_bad_input_is_one_line(capsys, five_class_file, tmp_path, argv, fragment):
    code, out, err = _cli(capsys, "bench-l1", "--data", five_class_file, "-o", tmp_path / "b", *argv)
    assert code != 0 and out == "" and err.count("\n") == 1 and "Traceback" not in err, err
    assert fragment in err and not (tmp_path / "b").exists()


@pytest.fixture(scope="session")
def five_class_hls4ml_file(five_class_file, tmp_path_factory) -> Path:
    """The five-class file with the hls4ml benchmark inputs (group /hls4ml) added by `fpgatag views`."""
    path = tmp_path_factory.mktemp("hls4ml") / "five-hls4ml.h5"
    assert main(["views", str(five_class_file), "-o", str(path), "--hls4ml-inputs"]) == 0
    return path


def test_hls4ml_input_kinds():
    """Padding from the stored count, features by the dataset's names, the tail kept inside the input range."""
    from fpgatag.data.hls4ml import CONSTITUENT_3, JET_FEATURES
    from fpgatag.nn.inputs import InputSpec

    rng = np.random.default_rng(0)
    c3 = rng.normal(0, 0.3, (200, 32, 3)).astype(np.float32)
    c3[..., 0] = rng.exponential(40.0, (200, 32))
    n = rng.integers(3, 32, 200).astype(np.int16)
    c3[:20, :2, 0] = 5000.0                               # a tail: 40 very hard constituents (~1.5 %)
    c3[np.arange(32)[None, :] >= n[:, None]] = 0.0
    batch = {"constituents_3": c3, "n_constituents": n, "jet_features": rng.normal(0, 1, (200, 16)).astype(np.float32)}
    spec = InputSpec(kind="hls4ml_constituents", features=["j1_phirel", "j1_pt"], n_objects=16,
                     input_bits=16, input_integer_bits=6).fit(batch)
    assert spec.source_keys() == ["constituents_3", "n_constituents"] and spec.shape == (16, 2)
    x = spec.transform(batch)
    mask = np.arange(16)[None, :] < n[:, None]
    assert np.all(x[~mask] == 0) and np.mean(x[mask][:, 1] > 0) > 0.99
    np.testing.assert_array_equal(x[..., 1], quantize_fixed(c3[:, :16, CONSTITUENT_3.index("j1_pt")] * spec.scale[1], 16, 6))
    assert np.log2(spec.scale[1]) == int(np.log2(spec.scale[1]))          # a shift in firmware
    assert np.max(np.abs(x)) < 32 - 2 ** -10                                # the tail is not saturated
    jet = InputSpec(kind="hls4ml_jet", features=list(JET_FEATURES[::-1]), input_bits=16, input_integer_bits=6)
    assert jet.source_keys() == ["jet_features"] and jet.transform(batch).shape == (200, 16)
    np.testing.assert_array_equal(jet.raw(batch)[0], batch["jet_features"][:, ::-1])
    with pytest.raises(FpgatagError, match="'mass'.*j_zlogz"):
        InputSpec(kind="hls4ml_jet", features=["mass"])
    assert InputSpec(kind="hls4ml_constituents", features=["j1_deltaR"]).source_keys()[0] == "constituents_16"
    with pytest.raises(FpgatagError, match="64 constituents .* holds 32"):
        InputSpec(kind="hls4ml_constituents", features=["j1_pt"], n_objects=64).transform(batch)


def test_hls4ml_student_on_a_file_without_the_inputs_is_one_line(capsys, five_class_file, tmp_path):
    code, out, err = _cli(capsys, "train-student", "--data", five_class_file, "--student", "mlp-hls4ml",
                          "--epochs", 1, "-o", tmp_path / "s")
    assert code != 0 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "/hls4ml" in err and "--hls4ml-inputs" in err and not (tmp_path / "s").exists()


def test_bench_l1_picks_the_hls4ml_presets():
    from fpgatag.report.l1bench import L1BenchConfig, resolve_presets

    from fpgatag.train.distill import DEFAULT_ALPHA, DEFAULT_TEMPERATURE

    cfg = L1BenchConfig(data=Path("f.h5"))
    assert (cfg.alpha, cfg.temperature) == (DEFAULT_ALPHA, DEFAULT_TEMPERATURE)   # distill's defaults
    on = resolve_presets(cfg, has_inputs=True)
    assert (on.student, on.mlp, on.teacher) == ("deepsets-hls4ml", "mlp-hls4ml", "particlenet-lite-hls4ml")
    assert resolve_presets(cfg, has_inputs=False) == cfg
    named = L1BenchConfig(data=Path("f.h5"), student="deepsets", mlp=None, teacher="particlenet")
    assert resolve_presets(named, has_inputs=True) == named           # a named preset is used as given
    kept = L1BenchConfig(data=Path("f.h5"), inputs="as-given")
    assert resolve_presets(kept, has_inputs=True) == kept
    with pytest.raises(FpgatagError, match=r"mlp-hls4ml .*/hls4ml.*views f.h5 -o OUT --hls4ml-inputs"):
        resolve_presets(L1BenchConfig(data=Path("f.h5"), mlp="mlp-hls4ml"), has_inputs=False)
    with pytest.raises(FpgatagError, match=r"particlenet-lite-hls4ml .*/hls4ml"):
        resolve_presets(L1BenchConfig(data=Path("f.h5"), teacher="particlenet-lite-hls4ml"), has_inputs=False)


def test_bench_l1_teacher_asking_for_more_constituents_than_stored_is_one_line(capsys, five_class_hls4ml_file, tmp_path):
    code, out, err = _cli(capsys, "bench-l1", "--data", five_class_hls4ml_file, "-o", tmp_path / "b",
                          "--teacher-particles", "151")
    assert code != 0 and out == "" and err.count("\n") == 1 and "Traceback" not in err, err
    assert "151 constituents" in err and "/hls4ml/constituents_16 stores 150" in err and not (tmp_path / "b").exists()


@pytest.mark.slow
def test_students_on_the_hls4ml_inputs(capsys, five_class_hls4ml_file, tmp_path):
    """deepsets-hls4ml (the 8 hardest of constituents_3) and mlp-hls4ml (the 16 jet_features) train on the
    file's own inputs, the Deep Sets firmware is bit-exact on them, and the benchmark's rows say so."""
    from fpgatag.report.l1bench import L1BenchConfig, collect_results, format_bench, resolve_presets

    data, b = five_class_hls4ml_file, tmp_path / "bench"
    # the benchmark's teacher on these files: ParticleNet-Lite on the dataset's own constituent kinematics
    _run(capsys, "train-teacher", "--data", data, "--model", "particlenet-lite-hls4ml", "--epochs", 1, "--seed", 1,
         "-o", b / "teacher")
    teacher_spec = json.loads((b / "teacher" / "inputs.json").read_text())
    assert teacher_spec["kind"] == "hls4ml_constituents" and teacher_spec["n_objects"] == 100
    assert teacher_spec["features"][:2] == ["j1_etarel", "j1_phirel"]   # the coordinates of the k-NN graph
    _run(capsys, "teacher-predict", "--teacher", b / "teacher", "--data", data, "-o", b / "teacher_logits.h5")
    common = ["--data", data, "--student", "deepsets-hls4ml", "--n-objects", 8, "--epochs", 2, "--seed", 1]
    _run(capsys, "train-student", *common, "-o", b / "n8" / "scratch-s1")
    _run(capsys, "distill", *common, "--teacher", b / "teacher", "--logits", b / "teacher_logits.h5",
         "-o", b / "n8" / "distilled-s1")
    _run(capsys, "train-student", "--data", data, "--student", "mlp-hls4ml", "--epochs", 2, "--seed", 1, "-o", b / "mlp")
    for run in (b / "n8" / "scratch-s1", b / "n8" / "distilled-s1", b / "mlp"):
        _check_auc_against_sklearn(run)
    spec = json.loads((b / "n8" / "scratch-s1" / "inputs.json").read_text())
    assert spec["kind"] == "hls4ml_constituents" and spec["n_objects"] == 8
    assert spec["features"] == ["j1_pt", "j1_etarel", "j1_phirel"] and spec["input_bits"] == 16
    assert json.loads((b / "mlp" / "inputs.json").read_text())["kind"] == "hls4ml_jet"

    run = b / "n8" / "distilled-s1"
    _run(capsys, "validate", run, "--data", data, "--n", 200, "-o", run / "validate.json")
    val = json.loads((run / "validate.json").read_text())
    assert val["n"] == json.loads((run / "metrics.json").read_text())["n_test"] and val["bit_exact_fraction"] == 1.0 and val["max_abs_diff"] == 0.0

    cfg = resolve_presets(L1BenchConfig(data=data, out=b, n_objects=(8,), seeds=(1,)), True)
    labels = np.repeat(np.arange(5), 60)
    result = collect_results(cfg, CLASSES, "native", {}, labels, has_inputs=True)
    rows = {r["kind"]: r for r in result["fpgatag"]}
    assert rows["scratch"]["inputs"]["source"] == "constituents_3" and rows["mlp"]["inputs"]["source"] == "jet_features"
    assert rows["teacher"]["inputs"]["source"] == "constituents_16" and rows["teacher"]["n_objects"] == 100
    assert rows["teacher"]["tagger"].startswith("teacher: particlenet-lite-hls4ml")
    assert rows["distilled"]["tagger"] == "Deep Sets (deepsets-hls4ml), distilled"
    md = format_bench(result)
    assert "constituents_3, first 8: j1_pt, j1_etarel, j1_phirel" in md
    assert "jet_features: 16 features (j_zlogz, ..., j_multiplicity)" in md and "MLP mlp-hls4ml" in md
