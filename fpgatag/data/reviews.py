"""``fpgatag views``: recompute a file's trigger views from its stored particles with other settings.

The trigger view is a pure function of a jet's particles, its uid and the view settings
(``fpgatag.data.views``), so another view (32 candidates instead of 16, other towers, other LSBs)
needs no new simulation: read the particles, rebuild both views, write a new native file. Any
readable format works as input (the public datasets too), so this also converts a public file into a
native one with the trigger view of your choice. Settings not given keep the input file's values.
``lund=True`` adds each jet's Lund tree (``fpgatag.data.lund``, group ``/lund``); an input that already
has Lund trees keeps them (copied, not rebuilt). ``hls4ml`` (a ``fpgatag.data.hls4ml.Hls4mlSettings``) adds
the Level-1 benchmark's inputs in the hls4ml dataset's terms (group ``/hls4ml``), rebuilt from the
particles whatever the input holds.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fpgatag.core import schema
from fpgatag.core.errors import FpgatagError
from fpgatag.data.views import ViewSettings, compute_views

if TYPE_CHECKING:
    from fpgatag.data.hls4ml import Hls4mlSettings
    from fpgatag.data.lund import LundSettings

log = logging.getLogger(__name__)


def remake_views(source_path, output, settings: dict[str, Any], batch_size: int = 4096,
                 lund: "LundSettings | None" = None, hls4ml: "Hls4mlSettings | None" = None) -> Path:
    """Write ``output``: the jets of ``source_path`` with both trigger views rebuilt under ``settings``
    (a dict of ``ViewSettings`` fields overriding the input's), with ``lund`` their Lund trees and with
    ``hls4ml`` the benchmark inputs.
    Returns the output path."""
    from fpgatag.data.hls4ml import HLS4ML_KEYS, hls4ml_inputs
    from fpgatag.data.lund import LUND_KEYS, lund_trees

    from fpgatag.core.io import atomic_path
    from fpgatag.core.logs import progress
    from fpgatag.core.provenance import provenance
    from fpgatag.data.io import NativeWriter, open_jets

    output = Path(output)
    if output.resolve() == Path(source_path).resolve():
        raise FpgatagError(f"{output}: the output is also the input")
    with open_jets(source_path) as src:
        old = src.view_settings.to_dict()
        unknown = sorted(set(settings) - set(old))
        if unknown:
            raise FpgatagError(f"views: unknown view setting(s) {', '.join(unknown)}; known: {', '.join(old)}")
        try:
            new = ViewSettings(**{**old, **settings})
        except ValueError as exc:
            raise FpgatagError(f"views: {exc}") from None
        attrs = {k: v for k, v in src.attrs.items() if k not in ("format", "schema_version", "n_jets", "views")}
        if "classes" not in attrs:
            attrs["classes"] = list(src.classes)
        attrs["views"] = new.to_dict()
        attrs["views_from"] = {"path": str(Path(source_path).resolve()), "format": src.format, "views": old}
        attrs["provenance"] = provenance({"source": str(source_path), "views": new.to_dict()})
        src.uids()  # refuses a file whose uids repeat (they key soft targets and splits)
        first = src.read(0, 1, keys=["particles"])["particles"]
        keep_lund = bool(getattr(src, "has_lund", False))
        keys = [*schema.BATCH_KEYS, *(LUND_KEYS if keep_lund else ())]
        if keep_lund:
            n_lund = src.ds["lund"].shape[1]
        elif lund is not None:
            n_lund = int(lund.max_nodes)
            attrs["lund"] = lund.to_dict()
        else:
            n_lund = None
        keep_bench = hls4ml is None and bool(getattr(src, "has_hls4ml", False))
        if keep_bench:  # the input's benchmark inputs are a function of its particles: copied as they are
            n_bench = src.ds["constituents_16"].shape[1]
            keys += list(HLS4ML_KEYS)
        else:
            n_bench = hls4ml.n_constituents if hls4ml is not None else None
            attrs.pop("hls4ml", None)
        if hls4ml is not None:
            attrs["hls4ml"] = hls4ml.to_dict()
        with atomic_path(output) as tmp:
            with NativeWriter(tmp, attrs, n_particles=first.shape[1], n_towers=new.n_towers,
                              n_candidates=new.n_candidates, n_lund=n_lund,
                              n_hls4ml=n_bench) as w:
                bar = progress(total=src.n_jets, unit="jet", desc="views")
                for batch in src.iter_batches(batch_size, keys=keys):
                    batch = dict(batch)
                    batch.update(compute_views(batch["particles"], batch["n_particles"], batch["uid"], new))
                    if n_lund is not None and not keep_lund:
                        batch.update(lund_trees(batch["particles"], batch["n_particles"], lund))
                    if hls4ml is not None:
                        batch.update(hls4ml_inputs(batch, hls4ml))
                    w.append(batch)
                    bar.update(int(np.asarray(batch["label"]).shape[0]))
                bar.close()
        n = src.n_jets
    log.info("rebuilt the trigger views of %d jets (%s) -> %s", n,
             ", ".join(f"{k} {old[k]} -> {v}" for k, v in new.to_dict().items() if old[k] != v) or "same settings",
             output)
    return output
