"""Soft targets for distillation: the teacher's logits for every jet, stored once in a side file.

``teacher_predict`` runs the teacher over a whole data file and writes
``<data>.logits.<teacher-name>.h5`` (``format = "fpgatag-logits"``)::

    /uid       int64   (n,)      the data file's jet uids, in file order
    /logits    float32 (n, C)    the teacher's pre-softmax outputs (its layer named "logits")
    attrs: format, version, teacher_dir, teacher_dirs (JSON), teacher_name, teacher_fingerprints
           (JSON, one per teacher directory), out_of_fold (K, 0 for one teacher), data_path, n_jets,
           uid_fingerprint, classes (JSON), provenance (JSON)

The default file name carries the teachers' fingerprint (a hash of their model files), so two
teachers whose directories share a name never share a logits file; ``distill`` checks it.

With the K run directories of a K-fold teacher (``train-teacher --fold i/K``) every jet's logits come
from the teacher of its fold, which never saw it in training: out-of-fold soft targets. A teacher's
logits on its own training jets are sharper and more often right than on new jets; a student distilled
from them learns that over-confidence, not the teacher's knowledge of unseen jets.

``load_soft_targets`` returns the logits aligned to a data file's rows and refuses a file whose
jets don't match (another count, other uids, other classes), so a student can never be distilled
from logits that belong to other jets.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fpgatag.core.errors import FpgatagError
from fpgatag.core.io import atomic_path
from fpgatag.core.provenance import provenance

log = logging.getLogger(__name__)

FORMAT = "fpgatag-logits"
VERSION = 1
LOGITS_LAYER = "logits"


def uid_fingerprint(uids: np.ndarray) -> str:
    """A short hash of a uid array (order matters): 16 hex digits of SHA-256 over int64 LE bytes."""
    data = np.ascontiguousarray(np.asarray(uids), dtype="<i8").tobytes()
    return hashlib.sha256(data).hexdigest()[:16]


def _data_path(data: Any) -> Path | None:
    if isinstance(data, (str, Path)):
        return Path(data)
    p = getattr(data, "path", None)
    return Path(p) if p is not None else None


def _teacher_name(teacher_dirs: list[Path]) -> str:
    """One teacher: its run directory's name. K fold teachers: their names' common stem + ``-oof<K>``."""
    names = [Path(d).resolve().name for d in teacher_dirs]
    if len(names) == 1:
        return names[0]
    stem = os.path.commonprefix(names).rstrip("-_.") or names[0]
    return f"{stem}-oof{len(names)}"


def teacher_fingerprint(teacher_dir: str | Path) -> str:
    """16 hex digits of SHA-256 over a teacher run directory's model.json and model.h5."""
    from fpgatag.nn.io import MODEL_JSON, MODEL_WEIGHTS

    h = hashlib.sha256()
    for name in (MODEL_JSON, MODEL_WEIGHTS):
        path = Path(teacher_dir) / name
        try:
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
        except OSError:
            raise FpgatagError(f"{path}: not found (a teacher run directory holds {MODEL_JSON} and "
                               f"{MODEL_WEIGHTS})") from None
    return h.hexdigest()[:16]


def default_output(data: Any, teacher_dir: str | Path | Sequence[str | Path]) -> Path:
    """``<data>.logits.<teacher-name>-<fingerprint>.h5`` beside the data file (teacher name: the run
    directory's name, for K fold teachers their common name stem + ``-oof<K>``; fingerprint: 8 hex
    digits over the teachers' model files, so equally named teachers never share a file)."""
    path = _data_path(data)
    if path is None:
        raise FpgatagError("teacher-predict: the data source has no file path; give an output file")
    dirs = sorted(_as_dirs(teacher_dir), key=lambda d: str(d.resolve()))
    fp = hashlib.sha256("".join(teacher_fingerprint(d) for d in dirs).encode()).hexdigest()[:8]
    return path.with_name(f"{path.name}.logits.{_teacher_name(dirs)}-{fp}.h5")


def check_teacher(path: str | Path, attrs: dict[str, Any], teacher_dir: str | Path) -> None:
    """FpgatagError when the logits file ``path`` was not written by the teacher in ``teacher_dir``."""
    stored = json.loads(attrs.get("teacher_fingerprints", "null") or "null")
    if stored is None:
        log.warning("%s: written before teacher fingerprints were stored; cannot check it is %s's", path, teacher_dir)
        return
    fp = teacher_fingerprint(teacher_dir)
    if fp not in stored:
        raise FpgatagError(f"{path}: logits of another teacher (fingerprint {', '.join(stored)}), not of "
                           f"{teacher_dir} ({fp}); run teacher-predict with this teacher")


def _check_classes(dirs: Sequence[Path], source: Any) -> None:
    from fpgatag.core.io import read_json

    for d in dirs:
        classes = (read_json(d / "metrics.json", "teacher metrics") or {}).get("classes")
        if classes is not None and list(classes) != list(source.classes):
            raise FpgatagError(f"{d}: the teacher was trained on classes {list(classes)}, "
                               f"{_data_path(source) or 'the data'} has {list(source.classes)}")


def _as_dirs(teacher_dir: str | Path | Sequence[str | Path]) -> list[Path]:
    if isinstance(teacher_dir, (str, Path)):
        return [Path(teacher_dir)]
    return [Path(d) for d in teacher_dir]


def fold_teachers(teacher_dirs: Sequence[Path]) -> tuple[int, int, list[Path]]:
    """Check that ``teacher_dirs`` are the K fold teachers of one K-fold run (``train-teacher --fold i/K``):
    every fold 0..K-1 once, the same K, fold salt and split salt. Returns (K, salt, dirs ordered by fold)."""
    from fpgatag.core.io import read_json

    records = []
    for d in teacher_dirs:
        settings = read_json(d / "run.json", "teacher run record").get("settings") or {}
        fold = settings.get("fold")
        if not fold:
            raise FpgatagError(f"{d}: not a fold teacher (no fold in run.json); out-of-fold logits need teachers "
                               "trained with train-teacher --fold i/K, one per fold")
        records.append((int(fold["index"]), int(fold["count"]), int(fold.get("salt", 0)), d))
    counts = {r[1] for r in records}
    salts = {r[2] for r in records}
    if len(counts) != 1 or len(salts) != 1:
        raise FpgatagError("fold teachers come from different K-fold runs: "
                           + ", ".join(f"{d} is fold {i}/{k}" for i, k, _, d in records))
    k = counts.pop()
    indices = sorted(r[0] for r in records)
    if indices != list(range(k)):
        raise FpgatagError(f"out-of-fold logits need each of the {k} folds once, got folds {indices} "
                           f"({', '.join(str(r[3]) for r in records)})")
    return k, salts.pop(), [r[3] for r in sorted(records, key=lambda r: r[0])]


def logits_model(model):
    """A model with the same input whose output is the layer named ``logits`` (float32)."""
    import tensorflow as tf

    try:
        layer = model.get_layer(LOGITS_LAYER)
    except ValueError:
        raise FpgatagError(f"model {model.name!r}: no layer named {LOGITS_LAYER!r} to read logits from") from None
    return tf.keras.Model(model.inputs, tf.cast(layer.output, tf.float32), name=f"{model.name}_logits")


def predict_logits(model, source, spec, indices=None, batch_size: int = 1024) -> np.ndarray:
    """The model's logits for ``indices`` (default: every jet), in file order, streamed from the file."""
    from fpgatag.train.data import make_dataset

    idx = np.arange(source.n_jets) if indices is None else np.asarray(indices)
    ds = make_dataset(source, spec, idx, batch_size).map(lambda x, y: x)
    return np.asarray(logits_model(model).predict(ds, verbose=0), dtype=np.float32)


def teacher_predict(teacher_dir: str | Path | Sequence[str | Path], data: Any, output: str | Path | None = None,
                    batch_size: int = 1024) -> Path:
    """Store the teacher's logits for every jet of ``data`` in a side file; return its path.

    ``teacher_dir`` is one run directory, or the K run directories of a K-fold teacher
    (``train-teacher --fold i/K``): then each jet's logits come from the teacher of its fold, the one
    that never trained on it (out-of-fold soft targets; validation and test jets are unseen by all).
    """
    from fpgatag.core.splits import assign_folds
    from fpgatag.nn.io import load_inputs, load_model
    from fpgatag.train.data import as_source

    dirs = _as_dirs(teacher_dir)
    if not dirs:
        raise FpgatagError("teacher-predict: no teacher run directory given")
    for d in dirs:
        if not d.is_dir():
            raise FpgatagError(f"{d}: teacher run directory not found")
    if len({d.resolve() for d in dirs}) != len(dirs):
        raise FpgatagError("teacher-predict: the same teacher run directory is given twice")
    n_folds, fold_salt = 0, 0
    if len(dirs) > 1:
        n_folds, fold_salt, dirs = fold_teachers(dirs)
    source = as_source(data)
    _check_classes(dirs, source)
    out = Path(output) if output is not None else default_output(data, dirs)
    uids = np.asarray(source.uids(), dtype=np.int64)
    if n_folds:
        folds = assign_folds(uids, n_folds, fold_salt)
        logits = None
        for i, d in enumerate(dirs):
            rows = np.flatnonzero(folds == i)
            if rows.size == 0:
                continue
            part = predict_logits(load_model(d), source, load_inputs(d), indices=rows, batch_size=batch_size)
            if logits is None:
                logits = np.zeros((source.n_jets, part.shape[1]), dtype=np.float32)
            logits[rows] = part
            log.info("fold %d/%d: logits of %d jets from %s", i, n_folds, rows.size, d)
    else:
        logits = predict_logits(load_model(dirs[0]), source, load_inputs(dirs[0]), batch_size=batch_size)
    if not np.all(np.isfinite(logits)):
        row = int(np.argmax(~np.isfinite(logits).all(axis=1)))
        raise FpgatagError(f"{dirs[0]}: the teacher gives nan or inf logits (first at jet {row}); no logits written")
    data_path = _data_path(data)
    import h5py

    with atomic_path(out) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("uid", data=uids)
            f.create_dataset("logits", data=logits)
            f.attrs["format"] = FORMAT
            f.attrs["version"] = VERSION
            f.attrs["teacher_dir"] = str(dirs[0].resolve())
            f.attrs["teacher_dirs"] = json.dumps([str(d.resolve()) for d in dirs])
            f.attrs["teacher_name"] = _teacher_name(dirs)
            f.attrs["teacher_fingerprints"] = json.dumps([teacher_fingerprint(d) for d in dirs])
            f.attrs["out_of_fold"] = int(n_folds)
            f.attrs["data_path"] = str(data_path.resolve()) if data_path is not None else ""
            f.attrs["n_jets"] = int(source.n_jets)
            f.attrs["uid_fingerprint"] = uid_fingerprint(uids)
            f.attrs["classes"] = json.dumps(list(source.classes))
            f.attrs["provenance"] = json.dumps(provenance({"teacher_dirs": [str(d.resolve()) for d in dirs]}))
    log.info("wrote %slogits of %d jets to %s", f"out-of-fold ({n_folds} folds) " if n_folds else "",
             source.n_jets, out)
    return out


def read_logits_attrs(path: str | Path) -> dict[str, Any]:
    """The attributes of a logits file (no arrays read)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    except OSError as exc:
        raise FpgatagError(f"{path}: not a readable HDF5 file ({exc})") from None


def read_soft_targets(path: str | Path) -> dict[str, Any]:
    """The raw contents of a logits file: ``uid``, ``logits`` and its attributes."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FpgatagError(f"{path}: soft-target (logits) file not found; run fpgatag teacher-predict first")
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != FORMAT or "uid" not in f or "logits" not in f:
                raise FpgatagError(f"{path}: not a teacher logits file (format {FORMAT!r})")
            rec = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
            rec["uid"] = f["uid"][:]
            rec["logits"] = f["logits"][:]
    except OSError as exc:
        raise FpgatagError(f"{path}: not a readable HDF5 file ({exc})") from None
    return rec


def load_soft_targets(path: str | Path, source: Any, teacher_dir: str | Path | None = None) -> np.ndarray:
    """The stored logits aligned to ``source``'s rows, (n_jets, C) float32.

    ``source`` is a JetSource or a data file path. Raises :class:`FpgatagError` when the file's
    jets don't match the source's (count, uids or classes), when ``teacher_dir`` is given and the
    logits are another teacher's, or when a logit is not finite.
    """
    from fpgatag.train.data import as_source

    path = Path(path)
    source = as_source(source)
    rec = read_soft_targets(path)
    if not np.all(np.isfinite(rec["logits"])):
        row = int(np.argmax(~np.isfinite(rec["logits"]).all(axis=-1)))
        raise FpgatagError(f"{path}: dataset /logits holds nan or inf (first at jet {row})")
    uids, logits = rec["uid"], rec["logits"]
    where = _data_path(source) or "the data"
    n = int(source.n_jets)
    if uids.shape[0] != n:
        raise FpgatagError(f"{path}: holds logits for {uids.shape[0]} jets, {where} has {n}: "
                           "jets don't match (run teacher-predict on this file)")
    classes = json.loads(rec.get("classes", "null") or "null")
    if classes is not None and list(classes) != list(source.classes):
        raise FpgatagError(f"{path}: logits are for classes {classes}, {where} has {list(source.classes)}")
    src_uids = np.asarray(source.uids(), dtype=np.int64)
    if np.array_equal(uids, src_uids):
        if teacher_dir is not None:
            check_teacher(path, rec, teacher_dir)
        return logits.astype(np.float32)
    # same jets in another order: realign by uid
    order = np.argsort(uids, kind="stable")
    pos = np.searchsorted(uids[order], src_uids)
    pos = np.clip(pos, 0, n - 1)
    found = uids[order][pos] == src_uids
    if not np.all(found) or np.unique(src_uids).size != n:
        missing = int(np.sum(~found))
        raise FpgatagError(f"{path}: jets don't match {where} ({missing} of {n} uids have no stored logits; "
                           f"fingerprint {rec.get('uid_fingerprint')} vs {uid_fingerprint(src_uids)})")
    if teacher_dir is not None:
        check_teacher(path, rec, teacher_dir)
    log.info("%s: realigned logits to the data file's order", path)
    return logits[order][pos].astype(np.float32)
