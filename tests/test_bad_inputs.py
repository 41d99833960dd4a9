"""A catalogue of bad inputs, options and faults, run through the real CLI in-process.

Every case must end with a non-zero exit, exactly one error line that names the thing at fault, no
traceback, and no existing file changed (the workspace tree is fingerprinted before and after). The
catalogue is one parametrized table: add a row for every bug found. Per-class tests below it check
what a row cannot (a diverging training, merge attributes, uid layout, signals).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest

from fpgatag.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
N_SMALL = 300   # jets in the small derived files


# --------------------------------------------------------------------------- workspace
def _write(path: Path, batch: dict, attrs: dict, mutate=None) -> Path:
    from fpgatag.data.io import write_jets

    batch = {k: np.array(v, copy=True) for k, v in batch.items()}
    attrs = json.loads(json.dumps(attrs, default=str))
    if mutate is not None:
        mutate(batch, attrs)
    write_jets(path, batch, attrs)
    return path


def _attrs(src) -> dict:
    return {k: v for k, v in src.attrs.items() if k not in ("format", "schema_version", "n_jets")}


def _set(key, index, value):
    def mutate(batch, attrs):
        batch[key][index] = value
    return mutate


def _shard(i, n, offset):
    def mutate(batch, attrs):
        attrs["generator"] = {**attrs["generator"], "shard": [i, n]}
        batch["uid"] = batch["uid"] + offset
    return mutate


def _make_data(ws: Path, jets_file: Path) -> None:
    from fpgatag.data.io import open_jets

    shutil.copy(jets_file, ws / "jets.h5")
    with open_jets(jets_file) as src:
        batch, attrs = src.read(0, N_SMALL), _attrs(src)
    _write(ws / "small.h5", batch, attrs)
    _write(ws / "nan_particles.h5", batch, attrs, _set("particles", (123, 0, 0), np.nan))
    _write(ws / "inf_jet.h5", batch, attrs, _set("jet", (7, 0), np.inf))
    _write(ws / "nan_towers.h5", batch, attrs, _set("towers", (42, 0, 1), np.nan))
    _write(ws / "nan_candidates.h5", batch, attrs, _set("candidates", (11, 0, 0), -np.inf))
    _write(ws / "nan_candidates_all.h5", batch, attrs, _set("candidates", (slice(None), 0, 0), np.nan))
    _write(ws / "label_high.h5", batch, attrs, _set("label", 5, 7))
    _write(ws / "label_neg.h5", batch, attrs, _set("label", 9, -1))
    _write(ws / "dup_uid.h5", batch, attrs, lambda b, a: b["uid"].__setitem__(3, b["uid"][2]))
    _write(ws / "swapped.h5", batch, attrs, lambda b, a: a.__setitem__("classes", list(reversed(a["classes"]))))
    _write(ws / "three.h5", batch, attrs, lambda b, a: a.__setitem__("classes", a["classes"] + ["w"]))
    _write(ws / "shard0of3.h5", batch, attrs, _shard(0, 3, 0))
    _write(ws / "shard2of3.h5", batch, attrs, _shard(2, 3, 1 << 40))
    _write(ws / "other_classes.h5", batch, attrs, lambda b, a: a.__setitem__("classes", ["quark", "gluon"]))
    shutil.copy(ws / "small.h5", ws / "wrong_shape.h5")
    with h5py.File(ws / "wrong_shape.h5", "a") as f:
        cols = f["jets/kin"].attrs["columns"]
        data = f["jets/kin"][:, :4]
        del f["jets/kin"]
        f["jets/kin"] = data
        f["jets/kin"].attrs["columns"] = cols
    shutil.copy(ws / "small.h5", ws / "wrong_columns.h5")
    with h5py.File(ws / "wrong_columns.h5", "a") as f:
        f["jets/kin"].attrs["columns"] = json.dumps(["pt", "eta", "phi", "m", "e"])
    shutil.copy(ws / "small.h5", ws / "no_uid.h5")
    with h5py.File(ws / "no_uid.h5", "a") as f:
        del f["jets/uid"]
    (ws / "text.h5").write_text("not hdf5\n")
    (ws / "empty.h5").write_bytes(b"")
    data = (ws / "small.h5").read_bytes()
    (ws / "truncated.h5").write_bytes(data[: len(data) // 3])
    with h5py.File(ws / "plain.h5", "w") as f:
        f["x"] = np.zeros(3)


def _run_cli(*argv) -> int:
    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:
        return int(exc.code or 0)


def _make_models(ws: Path) -> None:
    import tensorflow as tf

    assert _run_cli("train-student", "--data", ws / "small.h5", "--student", "deepsets", "--n-objects", "8",
                    "--bits", "6", "--epochs", "1", "-o", ws / "student") == 0
    assert _run_cli("train-teacher", "--data", ws / "small.h5", "--model", "dense-teacher", "--epochs", "1",
                    "--n-particles", "16", "-o", ws / "teacher") == 0
    assert _run_cli("teacher-predict", "--teacher", ws / "teacher", "--data", ws / "small.h5",
                    "-o", ws / "small.logits.h5") == 0
    shutil.copytree(ws / "teacher", ws / "other" / "teacher")   # same name, other weights
    from fpgatag.nn.io import load_model, save_model

    m = load_model(ws / "other" / "teacher")
    m.set_weights([w + 0.5 for w in m.get_weights()])
    save_model(m, ws / "other" / "teacher")

    def evil(x):   # would write a file if a loader ran it
        Path(os.environ.get("FPGATAG_EVIL", "/tmp/fpgatag-evil")).write_text("ran")
        return x

    inp = tf.keras.Input((8, 5))
    out = tf.keras.layers.Lambda(evil, name="evil")(tf.keras.layers.Dense(2)(tf.keras.layers.Flatten()(inp)))
    lam = tf.keras.Model(inp, out)
    lam.save(str(ws / "lambda.h5"), save_format="h5")
    (ws / "lambda.json").write_text(lam.to_json())
    lam.save_weights(str(ws / "lambda_weights.h5"))
    shutil.copytree(ws / "student", ws / "lambda_run")
    arch = json.loads((ws / "student" / "model.json").read_text())
    layers = arch["config"]["layers"]
    layers[-1] = {**layers[-1], "class_name": "Lambda",
                  "config": {**layers[-1]["config"], "function": ["4wAAAAA=", None, None], "function_type": "lambda"}}
    (ws / "lambda_run" / "model.json").write_text(json.dumps(arch))
    Path(os.environ.get("FPGATAG_EVIL", "/tmp/fpgatag-evil")).unlink(missing_ok=True)


@pytest.fixture(scope="module")
def ws(jets_file, tmp_path_factory):
    """A workspace with data files (good and bad), a tiny student, a tiny teacher with its logits,
    Lambda-holding models and a few bystander files and directories the commands must not touch."""
    ws = tmp_path_factory.mktemp("bad-inputs")
    os.environ["FPGATAG_EVIL"] = str(ws / "EVIL-RAN")
    _make_data(ws, jets_file)
    _make_models(ws)
    (ws / "mine").mkdir()
    (ws / "mine" / "thesis.tex").write_text("years of work\n")
    (ws / "notes.txt").write_text("keep me\n")
    (ws / "plot.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"someone else's picture")
    (ws / "validate.json").write_text('{"mine": 1}\n')
    (ws / "hls_projects").mkdir()
    (ws / "hls_projects" / "README.md").write_text("projects go here\n")
    (ws / "hls_projects" / "old_project").mkdir()
    (ws / "hls_projects" / "old_project" / "x.cpp").write_text("int x;\n")
    return ws


_DIGESTS: dict[tuple, str] = {}


def _tree(root: Path) -> dict[str, tuple]:
    """Every file under ``root``: (size, mtime_ns, inode, sha256). A digest is reused while the file's
    (path, size, mtime_ns, inode) stay the same: a changed file changes one of them anyway."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        if p.is_file():
            key = (str(p), st.st_size, st.st_mtime_ns, st.st_ino)
            if key not in _DIGESTS:
                _DIGESTS[key] = hashlib.sha256(p.read_bytes()).hexdigest()
            out[str(p.relative_to(root))] = (*key[1:], _DIGESTS[key])
        else:
            out[str(p.relative_to(root))] = ("dir",)
    return out


# --------------------------------------------------------------------------- the catalogue
@dataclass(frozen=True)
class Bad:
    argv: str          # command line; {ws}-relative paths, run with the workspace as cwd
    expect: str        # a piece of the one error line (the thing named)


def _floats(cmd: str, flags: list[str], base: str, values=("nan", "inf", "-inf")) -> list[Bad]:
    return [Bad(f"{cmd} {base} {flag} {v}", flag) for flag in flags for v in values]


_GEN_FLOATS = ["--ecm", "--pthat-min", "--pthat-max", "--pt-min", "--pt-max", "--eta-max", "--jet-r", "--match-dr"]
_VIEW_FLOATS = ["--tower-size", "--tower-threshold", "--em-stochastic", "--em-constant", "--had-stochastic",
                "--had-constant", "--pt-lsb", "--angle-lsb"]
_BAD_DATA = {   # file: what the error line names
    "nan_particles.h5": "/particles/data", "inf_jet.h5": "/jets/kin", "nan_towers.h5": "/trigger/towers",
    "nan_candidates.h5": "/trigger/candidates", "label_high.h5": "/jets/label", "label_neg.h5": "/jets/label",
    "dup_uid.h5": "/jets/uid", "wrong_shape.h5": "/jets/kin", "wrong_columns.h5": "/jets/kin",
    "no_uid.h5": "/jets/uid", "text.h5": "text.h5", "empty.h5": "empty.h5", "truncated.h5": "truncated.h5",
    "plain.h5": "plain.h5", "missing.h5": "missing.h5", "mine": "mine",
}
_FILE_FAULTS = ("wrong_shape.h5", "wrong_columns.h5", "no_uid.h5", "text.h5", "empty.h5", "truncated.h5",
                "plain.h5", "missing.h5", "mine")
_LABEL_FAULTS = ("label_high.h5", "label_neg.h5", "dup_uid.h5")
# the faults each command sees: those in the datasets it reads
_READS = {
    "inspect": ("inf_jet.h5", *_LABEL_FAULTS, *_FILE_FAULTS),
    "views": ("nan_particles.h5", "inf_jet.h5", *_LABEL_FAULTS, *_FILE_FAULTS[:-2], "mine"),
    "student": ("nan_candidates.h5", *_LABEL_FAULTS, *_FILE_FAULTS),
    "towers": ("nan_towers.h5",),
    "teacher": ("nan_particles.h5", *_LABEL_FAULTS, *_FILE_FAULTS[:3]),
}

CATALOGUE: list[Bad] = [
    # -- float options: nan and inf are not numbers, and ranges are checked (argparse, before any work)
    *_floats("generate", _GEN_FLOATS, "-o new.h5 --jets-per-class 10"),
    *_floats("generate", _VIEW_FLOATS, "-o new.h5 --jets-per-class 10", ("nan", "inf")),
    *_floats("views", _VIEW_FLOATS, "small.h5 -o new.h5"),
    *[Bad(f"views small.h5 -o new.h5 {f} {v}", f) for f in ("--tower-size", "--pt-lsb", "--angle-lsb")
      for v in ("0", "-1")],
    *[Bad(f"views small.h5 -o new.h5 {f} -0.5", f) for f in ("--tower-threshold", "--em-stochastic")],
    *_floats("train-teacher", ["--lr"], "--data small.h5 -o t2", ("nan", "inf", "0", "-1e-3")),
    *_floats("train-student", ["--lr"], "--data small.h5 -o s2", ("nan", "inf", "0", "-1")),
    *_floats("train-student", ["--sparsity"], "--data small.h5 -o s2", ("nan", "1.5", "-0.1")),
    *_floats("distill", ["--alpha"], "--data small.h5 --teacher teacher -o s2", ("nan", "inf", "1.5", "-0.5")),
    *_floats("distill", ["-T"], "--data small.h5 --teacher teacher -o s2", ("nan", "inf", "0", "-2")),
    *_floats("distill", ["--lr"], "--data small.h5 --teacher teacher -o s2", ("nan",)),
    *_floats("synth", ["--clock-period"], "student -o h2", ("nan", "inf", "0", "-5")),
    *_floats("validate", ["--min-bit-exact"], "student --data small.h5", ("nan", "inf", "-0.1")),
    *_floats("validate", ["--min-argmax"], "student --data small.h5", ("nan", "-1")),
    # -- integer options out of range
    *[Bad(f"generate -o new.h5 {f} {v}", f) for f in ("--jets-per-class", "--workers", "--max-particles",
                                                       "--chunk-jets", "--n-towers", "--n-candidates")
      for v in ("0", "-3")],
    Bad("generate -o new.h5 --jets-per-class ten", "--jets-per-class"),
    Bad("generate -o new.h5 --seed -1", "--seed"),
    Bad("generate -o new.h5 --seed 99999999999", "--seed"),
    Bad("generate -o new.h5 --jets-per-class 100000000000000", "--jets-per-class"),
    Bad("generate -o new.h5 --jets-per-class 2000000000", "MB free"),   # 4e9 jets: no disk holds them
    Bad("generate -o new.h5 --chunk-jets 100000", "chunk_jets"),
    Bad("generate -o new.h5 --chunk-jets 20000", "--chunk-jets"),
    Bad("generate -o new.h5 --shard 3/3", "--shard"),
    Bad("generate -o new.h5 --shard x", "--shard"),
    Bad("generate -o new.h5 --process nope", "nope"),
    Bad("generate -o new.h5 --process qcd --process qcd", "--process"),
    Bad("views small.h5 -o new.h5 --n-candidates 0", "--n-candidates"),
    Bad("views small.h5 -o new.h5", "view setting"),
    *[Bad(f"train-teacher --data small.h5 -o t2 {f} {v}", f)
      for f in ("--epochs", "--batch-size", "--max-jets", "--n-particles", "--early-stopping") for v in ("0", "-1")],
    Bad("train-teacher --data small.h5 -o t2 --fold 2/2", "--fold"),
    Bad("train-teacher --data small.h5 -o t2 --fold 0/1", "--fold"),
    Bad("views small.h5 -o new.h5 --lund --lund-max-nodes 0", "--lund-max-nodes"),
    Bad("views small.h5 -o new.h5 --lund --lund-max-nodes 5000", "max_nodes"),
    Bad("train-teacher --data small.h5 -o t2 --model lundnet-5 --epochs 1", "/lund"),
    Bad("train-teacher --data small.h5 -o t2 --freeze", "--init-from"),
    Bad("train-teacher --data small.h5 -o t2 --lr-factor 0.5", "--init-from"),
    Bad("train-teacher --data small.h5 -o t2 --init-from nowhere", "nowhere"),
    Bad("train-teacher --data small.h5 -o t2 --init-from mine --lr-factor 0", "--lr-factor"),
    *[Bad(f"train-student --data small.h5 -o s2 {f} {v}", f)
      for f in ("--epochs", "--batch-size", "--n-objects", "--bits", "--patience", "--max-jets") for v in ("0", "-2")],
    Bad("train-student --data small.h5 -o s2 --freeze", "--freeze"),
    Bad("teacher-predict --teacher teacher --data small.h5 -o l.h5 --batch-size 0", "--batch-size"),
    Bad("synth student -o h2 --reuse-factor 0", "--reuse-factor"),
    Bad("synth student -o h2 --reuse-factor -4", "--reuse-factor"),
    Bad("synth student -o h2 --input-precision fixed<a,b>", "--input-precision"),
    Bad("validate student --data small.h5 --n 0", "--n"),
    Bad("validate student --data small.h5 --n -1", "--n"),
    Bad("validate student --data small.h5 --workers 0", "--workers"),
    *[Bad(f"sweep --data small.h5 -o sw {f} {v}", f)
      for f in ("--bits", "--n-objects", "--reuse-factors", "--epochs", "--batch-size", "--workers") for v in ("0", "-1")],
    *[Bad(f"demo --out dm {f} 0", f) for f in ("--jets-per-class", "--workers", "--teacher-epochs", "--student-epochs")],
    Bad("demo --out dm --jets-per-class 10", "--jets-per-class"),
    # -- unknown names fail before any training
    Bad("demo --out dm --data small.h5 --part foo", "foo"),
    Bad("sweep --data small.h5 -o sw --part foo", "foo"),
    Bad("sweep --data small.h5 -o sw --student no-such-student", "no-such-student"),
    Bad("sweep --data small.h5 -o sw --student /abs/x.json", "/abs/x.json"),
    Bad("sweep --data missing.h5 -o sw", "missing.h5"),
    Bad("sweep --data small.h5 -o sw --teacher missing_dir", "missing_dir"),
    Bad("sweep --data small.h5 -o sw --shard 2/2", "2/2"),
    Bad("sweep --data small.h5 -o sw --bits 4 --n-objects 8 --shard 1/2", "1/2"),
    Bad("synth student -o h2 --part foo", "foo"),
    Bad("validate student --data small.h5 --part foo", "foo"),
    Bad("train-teacher --data small.h5 -o t2 --model no-such-preset", "no-such-preset"),
    Bad("train-teacher --data small.h5 -o t2 --model ../../etc/passwd", "../../etc/passwd"),
    Bad("train-teacher --data small.h5 -o t2 --model deepsets", "deepsets"),
    Bad("train-student --data small.h5 -o s2 --student ../tests/x", "../tests/x"),
    Bad("train-student --data small.h5 -o s2 --student no-such-student", "no-such-student"),
    Bad("train-student --data small.h5 -o s2 --student notes.json", "notes.json"),
    Bad("distill --data small.h5 --teacher teacher -o s2 --student ../../x", "../../x"),
    Bad("bogus-command", "bogus-command"),
    Bad("synth student -o h2 --backend quartus", "--backend"),
    Bad("synth student -o h2 --io-type io_serial", "--io-type"),
    # -- outputs never destroy data: an input, an unrelated directory or file, a path under a file
    Bad("report student -o student", "student"),
    Bad("report student teacher -o teacher", "teacher"),
    Bad("report student -o mine", "mine"),
    Bad("report student -o .", "."),
    Bad("report student -o notes.txt", "notes.txt"),
    Bad("report student -o notes.txt/rep", "notes.txt"),
    Bad("report missing_run -o rep2", "missing_run"),
    Bad("synth student -o student", "student"),
    Bad("synth student -o teacher", "teacher"),
    Bad("synth student -o mine", "mine"),
    Bad("synth student -o notes.txt", "notes.txt"),
    Bad("synth student -o notes.txt/hls", "notes.txt"),
    Bad("synth hls_projects -o hls_projects", "hls_projects"),
    Bad("synth student -o hls_projects", "hls_projects"),
    Bad("synth student --weights notes.txt -o notes.txt", "notes.txt"),
    Bad("train-student --data small.h5 -o mine", "mine"),
    Bad("train-student --data small.h5 -o teacher/..", ".."),
    Bad("train-student --data small.h5 -o notes.txt", "notes.txt"),
    Bad("train-student --data small.h5 -o notes.txt/run", "notes.txt"),
    Bad("train-student --data small.h5 -o hls_projects", "hls_projects"),
    Bad("train-student --data small.h5 -o student --init-from student", "student"),
    Bad("distill --data small.h5 --teacher teacher -o teacher", "teacher"),
    Bad("distill --data small.h5 --teacher teacher -o mine", "mine"),
    Bad("train-teacher --data small.h5 -o mine", "mine"),
    Bad("train-teacher --data small.h5 -o notes.txt", "notes.txt"),
    Bad("train-teacher --data small.h5 -o notes.txt/t", "notes.txt"),
    Bad("teacher-predict --teacher teacher --data small.h5 -o small.h5", "small.h5"),
    Bad("teacher-predict --teacher teacher --data small.h5 -o jets.h5", "jets.h5"),
    Bad("teacher-predict --teacher teacher --data small.h5 -o notes.txt", "notes.txt"),
    Bad("teacher-predict --teacher teacher --data small.h5 -o mine", "mine"),
    Bad("teacher-predict --teacher teacher --data small.h5 -o teacher", "teacher"),
    Bad("teacher-predict --teacher teacher --data small.h5 -o notes.txt/l.h5", "notes.txt"),
    Bad("generate -o mine --jets-per-class 10", "mine"),
    Bad("generate -o notes.txt --jets-per-class 10", "notes.txt"),
    Bad("generate -o notes.txt/x.h5 --jets-per-class 10", "notes.txt"),
    Bad("generate -o small.logits.h5 --jets-per-class 10", "small.logits.h5"),
    Bad("merge -o small.h5 small.h5", "small.h5"),
    Bad("merge -o notes.txt small.h5", "notes.txt"),
    Bad("merge -o mine small.h5", "mine"),
    Bad("merge -o small.logits.h5 small.h5", "small.logits.h5"),
    Bad("merge -o notes.txt/m.h5 small.h5", "notes.txt"),
    Bad("views small.h5 -o small.h5 --n-candidates 8", "small.h5"),
    Bad("views small.h5 -o notes.txt --n-candidates 8", "notes.txt"),
    Bad("views small.h5 -o mine --n-candidates 8", "mine"),
    Bad("views small.h5 -o notes.txt/v.h5 --n-candidates 8", "notes.txt"),
    Bad("compare student -o plot.png", "plot.png"),
    Bad("compare student -o notes.txt", "notes.txt"),
    Bad("compare student -o mine", "mine"),
    Bad("compare student -o student", "student"),
    Bad("validate student --data small.h5 -o validate.json", "validate.json"),
    Bad("validate student --data small.h5 -o notes.txt/v.json", "notes.txt"),
    Bad("validate student --data small.h5 -o small.h5", "small.h5"),
    Bad("sweep --data small.h5 -o mine", "mine"),
    Bad("sweep --data small.h5 -o student", "student"),
    Bad("sweep --data small.h5 -o notes.txt", "notes.txt"),
    Bad("sweep --data small.h5 -o .", "."),
    Bad("demo --out mine --data small.h5", "mine"),
    Bad("demo --out student --data small.h5", "student"),
    Bad("demo --out notes.txt --data small.h5", "notes.txt"),
    Bad("demo --out . --data small.h5", "."),
    # -- bad data files, through every command that reads jets
    *[Bad(f"inspect {f}", _BAD_DATA[f]) for f in _READS["inspect"]],
    *[Bad(f"views {f} -o v.h5 --n-candidates 8", _BAD_DATA[f]) for f in _READS["views"]],
    *[Bad(f"train-student --data {f} --student deepsets --n-objects 8 --epochs 1 -o s3", _BAD_DATA[f])
      for f in _READS["student"]],
    *[Bad(f"distill --data {f} --no-teacher --student deepsets --n-objects 8 --epochs 1 -o s3", _BAD_DATA[f])
      for f in _READS["student"][:5]],
    *[Bad(f"train-student --data {f} --student deepsets-towers --n-objects 8 --epochs 1 -o s3", _BAD_DATA[f])
      for f in _READS["towers"]],
    *[Bad(f"train-teacher --data {f} --model dense-teacher --epochs 1 -o t3", _BAD_DATA[f]) for f in _READS["teacher"]],
    *[Bad(f"teacher-predict --teacher teacher --data {f} -o l3.h5", _BAD_DATA[f]) for f in _READS["teacher"]],
    Bad("merge -o m3.h5 small.h5 dup_uid.h5", "/jets/uid"),
    Bad("validate student --data nan_candidates_all.h5 -o v3.json", "/trigger/candidates"),
    Bad("compare student teacher -o roc.png --data missing.h5", "missing.h5"),
    Bad("compare missing_run", "missing_run"),
    # -- integrity across files
    Bad("merge -o m3.h5 shard0of3.h5 shard2of3.h5", "1/3"),
    Bad("merge -o m3.h5 small.h5 small.h5", "small.h5"),
    Bad("merge -o m3.h5 small.h5 other_classes.h5", "other_classes.h5"),
    Bad("merge -o m3.h5 small.h5 text.h5", "text.h5"),
    Bad("teacher-predict --teacher teacher --data swapped.h5 -o l3.h5", "swapped.h5"),
    Bad("teacher-predict --teacher teacher --data three.h5 -o l3.h5", "three.h5"),
    Bad("teacher-predict --teacher teacher student --data small.h5 -o l3.h5", "fold"),
    Bad("teacher-predict --teacher teacher teacher --data small.h5 -o l3.h5", "twice"),
    Bad("teacher-predict --teacher mine --data small.h5 -o l3.h5", "mine"),
    Bad("teacher-predict --teacher missing_dir --data small.h5 -o l3.h5", "missing_dir"),
    Bad("distill --data small.h5 --teacher other/teacher --logits small.logits.h5 --student deepsets "
        "--n-objects 8 --epochs 1 -o s3", "another teacher"),
    Bad("distill --data jets.h5 --teacher teacher --logits small.logits.h5 --student deepsets "
        "--n-objects 8 --epochs 1 -o s3", "small.logits.h5"),
    Bad("distill --data small.h5 --teacher teacher --logits notes.txt --student deepsets --n-objects 8 "
        "--epochs 1 -o s3", "notes.txt"),
    Bad("distill --data small.h5 --teacher mine --student deepsets --n-objects 8 --epochs 1 -o s3", "mine"),
    # -- models: no code from files, non-models refused
    Bad("synth lambda.h5 -o h3", "Lambda"),
    Bad("synth lambda.json -o h3", "Lambda"),
    Bad("synth lambda.json --weights lambda_weights.h5 -o h3", "Lambda"),
    Bad("synth lambda_run -o h3", "Lambda"),
    Bad("validate lambda.h5 --data small.h5 -o v3.json", "Lambda"),
    Bad("validate lambda.json --data small.h5 -o v3.json", "Lambda"),
    Bad("validate lambda_run --data small.h5 -o v3.json", "Lambda"),
    Bad("teacher-predict --teacher lambda_run --data small.h5 -o l3.h5", "Lambda"),
    Bad("synth notes.txt -o h3", "notes.txt"),
    Bad("synth plain.h5 -o h3", "plain.h5"),
    Bad("synth missing_model -o h3", "missing_model"),
    Bad("synth mine -o h3", "model.json"),
    Bad("synth small.h5 --weights small.h5 -o h3", "--weights"),
    Bad("validate student --data notes.txt -o v3.json", "notes.txt"),
    Bad("validate student --data missing.h5 -o v3.json", "missing.h5"),
]

# each row once; ids are the command lines
_SEEN: set[str] = set()
CATALOGUE = [c for c in CATALOGUE if not (c.argv in _SEEN or _SEEN.add(c.argv))]


def test_catalogue_is_large():
    assert len(CATALOGUE) >= 200, len(CATALOGUE)


@pytest.mark.parametrize("case", CATALOGUE, ids=[c.argv for c in CATALOGUE])
def test_bad_input(case, ws, capsys, monkeypatch):
    monkeypatch.chdir(ws)
    before = _tree(ws)
    code = _run_cli(*case.argv.split())
    out, err = capsys.readouterr()
    assert code not in (0, None), f"accepted: {case.argv}\n{out}\n{err}"
    assert "Traceback" not in err and "Traceback" not in out, err
    errors = [ln for ln in err.splitlines() if ": error: " in ln]
    assert len(errors) == 1, err
    assert errors[0].startswith("fpgatag"), errors[0]
    assert case.expect in errors[0], errors[0]
    assert _tree(ws) == before, "an existing file changed"
    assert not (ws / "EVIL-RAN").exists(), "code from a model file ran"


# --------------------------------------------------------------------------- per class
def test_outputs_replace_only_previous_outputs_of_their_kind(tmp_path):
    from fpgatag.core.errors import FpgatagError
    from fpgatag.core.io import atomic_dir, check_output, dir_kind, file_kind, forcing

    run = tmp_path / "run"
    with atomic_dir(run) as tmp:
        (tmp / "run.json").write_text("{}")
    assert dir_kind(run) == "run"
    check_output(run, "run", directory=True)                     # a previous run: may be replaced
    with pytest.raises(FpgatagError, match="is a run output, not a hls output"):
        check_output(run, "hls", directory=True)
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "estimate.json").write_text("{}")                  # written before markers existed
    assert dir_kind(legacy) == "hls"
    (tmp_path / "empty").mkdir()
    check_output(tmp_path / "empty", "report", directory=True)   # nothing to lose
    with pytest.raises(FpgatagError, match="contains the input"):
        check_output(tmp_path, "report", inputs=[run / "run.json"], directory=True)
    with pytest.raises(FpgatagError, match="is the input"):
        check_output(run / ".." / "run", "run", inputs=[run], directory=True)
    check_output(run / "hls", "hls", inputs=[run], directory=True)   # inside an input is fine
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(FpgatagError, match="a.txt: exists and is not an fpgatag output"):
        check_output(tmp_path / "a.txt", "jets")
    with forcing():
        check_output(tmp_path / "a.txt", "jets")
        with pytest.raises(FpgatagError, match="is the input"):   # --force never replaces an input
            check_output(tmp_path / "a.txt", "jets", inputs=[tmp_path / "a.txt"])
    assert file_kind(tmp_path / "a.txt") is None


def test_rerun_over_own_output_and_force(ws, tmp_path, capsys):
    from fpgatag.core.io import file_kind

    out = tmp_path / "v.h5"
    for _ in range(2):   # the second run replaces the first one's output
        assert _run_cli("views", ws / "small.h5", "-o", out, "--n-candidates", "8") == 0
    assert file_kind(out) == "jets"
    other = tmp_path / "other.h5"
    other.write_text("x")
    assert _run_cli("views", ws / "small.h5", "-o", other, "--n-candidates", "8") != 0
    assert other.read_text() == "x"
    assert _run_cli("views", ws / "small.h5", "-o", other, "--n-candidates", "8", "--force") == 0
    assert file_kind(other) == "jets"
    capsys.readouterr()


def test_merge_of_a_partial_job_says_so(ws, tmp_path):
    from fpgatag.data.io import open_jets

    out = tmp_path / "partial.h5"
    assert _run_cli("merge", "-o", out, ws / "shard0of3.h5", ws / "shard2of3.h5", "--allow-partial", "--copy") == 0
    with open_jets(out) as src:
        assert src.attrs["partial"]
        assert src.attrs["generator"]["missing_shards"] == ["1/3"]
        assert src.n_jets == 2 * N_SMALL


def test_uids_differ_across_seeds_processes_chunks_by_construction():
    from fpgatag.core import schema
    from fpgatag.data.generate import check_uid_fields, uid_base
    from fpgatag.data.processes import PROCESSES

    assert sum(schema.UID_BITS.values()) == 63
    qcd, top = PROCESSES["qcd"], PROCESSES["top"]
    assert uid_base(1415, qcd, 0) != uid_base(1595, qcd, 0)   # equal under the old 19-bit seed hash
    jet_bits = schema.UID_BITS["jet"]
    bases = {uid_base(seed, p, c) >> jet_bits for seed in (0, 1, 1415, 1595, (1 << 24) - 1)
             for p in (qcd, top) for c in (0, 1, (1 << 21) - 1)}
    assert len(bases) == 5 * 2 * 3
    assert max(uid_base((1 << 24) - 1, PROCESSES["gluon"], (1 << 21) - 1) + (1 << jet_bits) - 1, 0) < 1 << 63
    from fpgatag.core.errors import FpgatagError

    with pytest.raises(FpgatagError, match="^seed "):   # the library names its argument; the CLI its flag
        check_uid_fields(1 << 24, 1000, 1000)


def test_generate_plans_lazily():
    from fpgatag.data.generate import shard_chunks

    chunks = shard_chunks(1 << 21, (3, 7))   # a range: nothing is allocated per chunk
    assert isinstance(chunks, range) and len(chunks) == len(np.array_split(np.arange(1 << 21), 7)[3])


def test_metrics_of_non_finite_scores_are_an_error():
    from fpgatag.core.errors import FpgatagError
    from fpgatag.core.metrics import auc, classification_metrics

    labels = np.array([0, 1, 0, 1])
    with pytest.raises(FpgatagError, match="not finite"):
        auc(labels, np.array([0.1, np.nan, 0.2, 0.9]))
    with pytest.raises(FpgatagError, match="not finite"):
        classification_metrics(labels, np.array([[0.5, 0.5], [np.inf, 0.0], [1, 0], [0, 1]]))


def test_a_diverging_training_saves_no_model(ws, tmp_path, capsys):
    out = tmp_path / "diverged"
    code = _run_cli("train-teacher", "--data", ws / "small.h5", "--model", "dense-teacher", "--n-particles", "16",
                    "--epochs", "1", "--lr", "1e30", "-o", out)
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert "diverged" in [ln for ln in err.splitlines() if ": error: " in ln][0]
    assert not out.exists() and not list(tmp_path.iterdir())


def test_logits_files_are_keyed_by_the_teacher(ws):
    from fpgatag.train.soft_targets import default_output

    a, b = default_output(ws / "small.h5", ws / "teacher"), default_output(ws / "small.h5", ws / "other" / "teacher")
    assert a != b and a.name.startswith("small.h5.logits.teacher-")


def test_synth_json_stays_parseable(ws, tmp_path, capsys):
    """hls4ml's notes (here: on a reuse factor it adjusts) go to stderr, stdout is only the JSON."""
    out = tmp_path / "hls"
    assert _run_cli("synth", ws / "student", "-o", out, "--reuse-factor", "3", "--json") == 0
    est = json.loads(capsys.readouterr().out)
    assert "fits" in est and est["reuse_factor"] == 3


@pytest.mark.slow
def test_sweep_stops_on_sigterm_and_keeps_finished_points(ws, tmp_path):
    out = tmp_path / "sweep"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": "-1"}
    proc = subprocess.Popen([sys.executable, "-m", "fpgatag.cli.main", "sweep", "--data", str(ws / "small.h5"),
                             "-o", str(out), "--student", "deepsets", "--bits", "4", "6", "8", "16",
                             "--n-objects", "8", "--epochs", "1", "--workers", "1", "--reuse-factors", "1"],
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    first = out / "deepsets_b4_n8" / "metrics.json"
    deadline = time.monotonic() + 150
    while not first.is_file() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
    assert first.is_file(), proc.communicate()[1] if proc.poll() is not None else "no point finished in time"
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - t0 < 30, "sweep did not stop within seconds"
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert first.is_file()                                     # the finished point is kept
    assert not (out / "deepsets_b16_n8").exists()              # queued points never started
    assert not [p for p in out.rglob(".*.tmp")]                # no half-written output left


def test_a_failed_write_is_one_line_and_leaves_nothing(tmp_path):
    """A full disk (ENOSPC from the OS, or HDF5's RuntimeError carrying the errno) while an output is
    written: one line naming the output, and no temporary file left."""
    import errno

    from fpgatag.core import io
    from fpgatag.core.errors import FpgatagError

    faults = [OSError(errno.ENOSPC, "No space left on device"),
              RuntimeError("Can't close dataset (file write failed: time = x, filename = 'y', file descriptor = 4, "
                           "errno = 28, error message = 'No space left on device')")]
    try:
        for fault in faults:
            with pytest.raises(FpgatagError, match=r"out\.h5: cannot write \(No space left on device\)"):
                with io.atomic_path(tmp_path / "out.h5") as tmp:
                    tmp.write_bytes(b"partial")
                    raise fault
            with pytest.raises(FpgatagError, match=r"run: cannot write \(No space left on device\)"):
                with io.atomic_dir(tmp_path / "run") as tmp:
                    (tmp / "x").write_text("partial")
                    raise fault
            assert list(tmp_path.iterdir()) == []
        assert io.WRITE_FAILED   # cli.main then ends the process before HDF5 frees the file
    finally:
        io.WRITE_FAILED.clear()   # this process goes on running other tests
    with pytest.raises(ValueError):   # other errors pass through unchanged
        with io.atomic_path(tmp_path / "out.h5"):
            raise ValueError("a bug")
