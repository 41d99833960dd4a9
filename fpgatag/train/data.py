"""Training inputs: stream batches from any :class:`JetSource` through an :class:`InputSpec`.

Teachers and students share this module. A dataset never loads the whole file: it reads blocks
of rows (``block_batches`` batches at a time, in file order, so HDF5 reads stay sequential),
prepares them with the spec, and - when shuffling - visits the blocks in a new random order each
epoch and mixes rows across neighbouring blocks with a shuffle buffer. For small sets,
:func:`load_arrays` returns plain numpy arrays.

Row indices always refer to rows of the source file (as returned by
:func:`fpgatag.core.splits.split_indices`), and ``extra`` arrays (teacher logits for distillation,
sample weights, ...) are aligned to the file's rows too: row ``i`` of ``extra`` belongs to jet ``i``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from fpgatag.core.errors import FpgatagError
from fpgatag.nn.inputs import InputSpec

log = logging.getLogger(__name__)

# Block size of HDF5 reads, in batches. A block is read with one contiguous (or sorted) read.
BLOCK_BATCHES = 16


def as_source(data: Any):
    """A :class:`JetSource` from a path (opened with ``fpgatag.data.io.open_jets``) or a source."""
    if isinstance(data, (str, os.PathLike)):
        from fpgatag.data.io import open_jets

        path = Path(data)
        if not path.exists():
            raise FpgatagError(f"{path}: data file not found")
        return open_jets(path)
    for attr in ("n_jets", "classes", "read", "uids", "labels"):
        if not hasattr(data, attr):
            raise TypeError(f"not a jet source (no .{attr}): {type(data).__name__}")
    return data


def input_keys(spec: InputSpec) -> list[str]:
    """The batch keys the spec needs to prepare its inputs, plus ``label`` and ``uid``."""
    keys = ["label", "uid", "jet"]
    if spec.kind in ("particles", "flat_particles"):
        keys += ["particles", "n_particles"]
    elif spec.kind == "lund":
        keys += ["lund", "lund_edges", "n_lund"]
    elif spec.source_keys():  # the hls4ml LHC jet dataset's own inputs
        keys += spec.source_keys()
    else:  # trigger kinds, and jet-level features of a trigger view
        view = spec.view
        keys += [view, f"n_{view}"]
    return keys


def _read_rows(source, rows: np.ndarray, keys: list[str]) -> dict[str, np.ndarray]:
    """Read sorted file rows: one contiguous read when the rows are dense, else an indexed read."""
    if rows.size == 0:
        raise ValueError("no rows to read")
    start, stop = int(rows[0]), int(rows[-1]) + 1
    if stop - start == rows.size:
        return source.read(start, stop, keys=keys)
    if stop - start <= 4 * rows.size:
        batch = source.read(start, stop, keys=keys)
        sel = rows - start
        return {k: v[sel] for k, v in batch.items()}
    return source.read(keys=keys, indices=rows)


def _check_indices(source, indices) -> np.ndarray:
    idx = np.asarray(indices, dtype=np.int64).ravel()
    if idx.size == 0:
        raise FpgatagError("no jets selected (the split is empty: use a larger data file)")
    idx = np.unique(idx)  # sorted, so HDF5 reads go forward
    if idx[0] < 0 or idx[-1] >= source.n_jets:
        raise ValueError(f"row indices outside 0..{source.n_jets - 1}")
    return idx


def _check_extra(source, extra) -> np.ndarray | None:
    if extra is None:
        return None
    extra = np.asarray(extra)
    if extra.shape[0] != source.n_jets:
        raise FpgatagError(f"extra array has {extra.shape[0]} rows, the data file has {source.n_jets} jets")
    return extra


def iter_blocks(source, spec: InputSpec, indices, block_size: int, shuffle: bool = False,
                rng: np.random.Generator | None = None, extra: np.ndarray | None = None) -> Iterator[tuple]:
    """Yield ``(x, y[, extra])`` numpy blocks of up to ``block_size`` rows of ``indices``.

    With ``shuffle`` the block order and the rows inside each block are permuted with ``rng``.
    """
    idx = _check_indices(source, indices)
    extra = _check_extra(source, extra)
    keys = input_keys(spec)
    blocks = [idx[i:i + block_size] for i in range(0, idx.size, block_size)]
    order = rng.permutation(len(blocks)) if shuffle else range(len(blocks))
    for b in order:
        rows = blocks[b]
        batch = _read_rows(source, rows, keys)
        x = spec.transform(batch)
        y = np.asarray(batch["label"], dtype=np.int32)
        e = extra[rows] if extra is not None else None
        if shuffle:
            p = rng.permutation(rows.size)
            x, y = x[p], y[p]
            e = e[p] if e is not None else None
        yield (x, y) if e is None else (x, y, e)


def make_dataset(source, spec: InputSpec, indices, batch_size: int, shuffle: bool = False, seed: int = 0,
                 extra: np.ndarray | None = None, *, block_batches: int = BLOCK_BATCHES,
                 drop_remainder: bool = False):
    """A ``tf.data.Dataset`` of ``(x, y)`` (or ``(x, y, extra)``) batches streamed from ``source``.

    ``indices`` are file rows (e.g. one split); ``y`` holds int32 class indices; ``extra`` is an
    array aligned to the file's rows, delivered row by row beside ``x``. Each iteration over the
    dataset (each epoch) reshuffles when ``shuffle`` is set; the order depends only on ``seed`` and
    the epoch number. The file is read block by block (``block_batches * batch_size`` rows).
    Note that ``Model.fit`` reads a third tuple element as sample weights: distillation code maps
    ``(x, y, extra)`` to what its loss needs (or uses its own ``train_step``).
    """
    import tensorflow as tf

    source = as_source(source)
    idx = _check_indices(source, indices)
    extra = _check_extra(source, extra)
    if batch_size < 1:
        raise FpgatagError(f"batch size must be positive, got {batch_size}")
    block = max(1, int(block_batches)) * int(batch_size)
    epoch = [0]

    def generator():
        rng = np.random.default_rng([int(seed), epoch[0]])
        epoch[0] += 1
        yield from iter_blocks(source, spec, idx, block, shuffle, rng, extra)

    sig = [tf.TensorSpec((None,) + tuple(spec.shape), tf.float32), tf.TensorSpec((None,), tf.int32)]
    if extra is not None:
        sig.append(tf.TensorSpec((None,) + extra.shape[1:], tf.as_dtype(extra.dtype)))
    ds = tf.data.Dataset.from_generator(generator, output_signature=tuple(sig))
    ds = ds.unbatch()
    if shuffle:
        # mixes rows across neighbouring blocks; the block order itself is already shuffled
        ds = ds.shuffle(min(block * 2, idx.size), seed=int(seed), reshuffle_each_iteration=True)
    ds = ds.batch(int(batch_size), drop_remainder=drop_remainder)
    options = tf.data.Options()
    # the generator cannot be sharded by file: with several workers each takes every N-th batch
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    options.deterministic = True
    ds = ds.with_options(options)
    return ds.prefetch(tf.data.AUTOTUNE)


def load_arrays(source, spec: InputSpec, indices, block_size: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """The prepared inputs ``x`` and int32 labels ``y`` of ``indices`` (file order), in memory."""
    source = as_source(source)
    xs, ys = [], []
    for x, y in iter_blocks(source, spec, indices, block_size):
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def fit_inputs(source, spec: InputSpec, indices, max_jets: int = 20000, seed: int = 0) -> InputSpec:
    """Fit the spec's offset and scale on (a sorted random subset of at most ``max_jets`` of) ``indices``."""
    source = as_source(source)
    idx = _check_indices(source, indices)
    if idx.size > max_jets:
        idx = np.sort(np.random.default_rng(seed).choice(idx, size=max_jets, replace=False))
    batch = _read_rows(source, idx, input_keys(spec))
    return spec.fit(batch)


def input_bytes(spec: InputSpec, n_jets: int) -> int:
    """Memory that ``n_jets`` prepared inputs take as float32."""
    return int(n_jets) * int(np.prod(spec.shape)) * 4
