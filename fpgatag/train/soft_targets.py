"""Soft targets for distillation: the teacher's logits for every jet, stored once in a side file.

``teacher_predict`` runs the teacher over a whole data file and writes
``<data>.logits.<teacher-name>.h5`` (``format = "fpgatag-logits"``)::

    /uid       int64   (n,)      the data file's jet uids, in file order
    /logits    float32 (n, C)    the teacher's pre-softmax outputs (its layer named "logits")
    attrs: format, version, teacher_dir, teacher_name, data_path, n_jets, uid_fingerprint,
           classes (JSON), provenance (JSON)

``load_soft_targets`` returns the logits aligned to a data file's rows and refuses a file whose
jets don't match (another count, other uids, other classes), so a student can never be distilled
from logits that belong to other jets.
"""

from __future__ import annotations

import hashlib
import json
import logging
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


def default_output(data: Any, teacher_dir: str | Path) -> Path:
    """``<data>.logits.<teacher-name>.h5`` beside the data file (teacher name: the run directory's name)."""
    path = _data_path(data)
    if path is None:
        raise FpgatagError("teacher-predict: the data source has no file path; give an output file")
    return path.with_name(f"{path.name}.logits.{Path(teacher_dir).resolve().name}.h5")


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


def teacher_predict(teacher_dir: str | Path, data: Any, output: str | Path | None = None,
                    batch_size: int = 1024) -> Path:
    """Store the teacher's logits for every jet of ``data`` in a side file; return its path."""
    from fpgatag.nn.io import load_inputs, load_model
    from fpgatag.train.data import as_source

    teacher_dir = Path(teacher_dir)
    if not teacher_dir.is_dir():
        raise FpgatagError(f"{teacher_dir}: teacher run directory not found")
    source = as_source(data)
    out = Path(output) if output is not None else default_output(data, teacher_dir)
    model = load_model(teacher_dir)
    spec = load_inputs(teacher_dir)
    logits = predict_logits(model, source, spec, batch_size=batch_size)
    uids = np.asarray(source.uids(), dtype=np.int64)
    data_path = _data_path(data)
    import h5py

    with atomic_path(out) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("uid", data=uids)
            f.create_dataset("logits", data=logits)
            f.attrs["format"] = FORMAT
            f.attrs["version"] = VERSION
            f.attrs["teacher_dir"] = str(teacher_dir.resolve())
            f.attrs["teacher_name"] = teacher_dir.resolve().name
            f.attrs["data_path"] = str(data_path.resolve()) if data_path is not None else ""
            f.attrs["n_jets"] = int(source.n_jets)
            f.attrs["uid_fingerprint"] = uid_fingerprint(uids)
            f.attrs["classes"] = json.dumps(list(source.classes))
            f.attrs["provenance"] = json.dumps(provenance({"teacher_dir": str(teacher_dir.resolve())}))
    log.info("wrote logits of %d jets to %s", source.n_jets, out)
    return out


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


def load_soft_targets(path: str | Path, source: Any) -> np.ndarray:
    """The stored logits aligned to ``source``'s rows, (n_jets, C) float32.

    ``source`` is a JetSource or a data file path. Raises :class:`FpgatagError` when the file's
    jets don't match the source's (count, uids or classes).
    """
    from fpgatag.train.data import as_source

    path = Path(path)
    source = as_source(source)
    rec = read_soft_targets(path)
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
    log.info("%s: realigned logits to the data file's order", path)
    return logits[order][pos].astype(np.float32)
