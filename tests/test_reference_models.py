"""The trained reference models in models/: complete, loadable with today's code, and bit-exact.

Each reference model is a run directory (model.json, model.h5, inputs.json, metrics.json, run.json);
the students also carry their firmware results (firmware/estimate.json, validate.json). They must
keep loading as the code changes, predict like the taggers they are on freshly generated jets, and
the students' C simulation must stay bit-exact through ``fpgatag validate``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

MODELS = Path(__file__).resolve().parents[1] / "models"
TEACHERS = ("particlenet-lite-teacher", "particlenet-lite-trigger-teacher")
STUDENTS = ("deepsets-l1-distilled", "deepsets-l1-scratch")


def test_the_reference_models_are_complete():
    found = sorted(p.parent.name for p in MODELS.glob("*/model.json"))
    assert found == sorted(TEACHERS + STUDENTS)
    readme = (MODELS / "README.md").read_text()
    total = 0
    for name in found:
        d = MODELS / name
        assert name in readme
        metrics = json.loads((d / "metrics.json").read_text())
        assert metrics["n_test"] > 0 and metrics["auc_err"] > 0                 # every figure with its uncertainty
        lo, hi = metrics["rejection_at_50_interval"]
        assert lo < metrics["rejection_at_50"] < hi
        run = json.loads((d / "run.json").read_text())
        assert run["command"] and run["versions"] and run["data"]              # how it was made
        total += sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
    assert total < 4 * 2**20
    from fpgatag.nn.io import load_inputs

    for name in STUDENTS:
        # written before the input precision was named input_bits/input_integer_bits: still loads
        assert "bits" in json.loads((MODELS / name / "inputs.json").read_text())
        assert load_inputs(MODELS / name).precision == (16, 6)
        firmware = json.loads((MODELS / name / "firmware" / "estimate.json").read_text())
        assert firmware["ii"] == 1 and firmware["lut"] > 0
        shipped = json.loads((MODELS / name / "validate.json").read_text())
        assert shipped["bit_exact_fraction"] == 1.0 and shipped["n"] == json.loads(
            (MODELS / name / "metrics.json").read_text())["n_test"]


@pytest.mark.parametrize("name", TEACHERS)
def test_reference_teachers_load_and_tag(name, jets_file):
    from fpgatag.core.metrics import classification_metrics
    from fpgatag.core.splits import split_indices
    from fpgatag.data.io import open_jets
    from fpgatag.nn.io import load_inputs, load_model
    from fpgatag.nn.students import softmax

    model, spec = load_model(MODELS / name), load_inputs(MODELS / name)
    with open_jets(jets_file) as src:
        batch = src.read(indices=split_indices(src.uids())["test"][:400])
    probs = softmax(model.predict(spec.transform(batch), batch_size=256, verbose=0))
    auc = classification_metrics(np.asarray(batch["label"]), probs)["auc"]
    assert auc > 0.85, f"{name}: AUC {auc:.3f} on {len(probs)} test jets"


@pytest.mark.slow
@pytest.mark.parametrize("name", STUDENTS)
def test_reference_students_validate_bit_exact(name, jets_file, tmp_path, capsys):
    from fpgatag.cli.main import main

    out = tmp_path / "validate.json"
    assert main(["validate", str(MODELS / name), "--data", str(jets_file), "--n", "400", "-o", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["n"] > 100 and res["bit_exact_fraction"] == 1.0 and res["max_abs_diff"] == 0.0
    assert res["auc_keras"] == res["auc_hls"] > 0.85
    capsys.readouterr()
