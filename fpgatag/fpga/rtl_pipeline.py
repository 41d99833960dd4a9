"""da4ml's pipelining with its retiming search answered from the circuit's latencies.

``da4ml.trace.pipeline.to_pipeline(comb, cutoff)`` splits the circuit into stages at ``cutoff`` adder
levels, then *retimes*: a bisection over smaller cutoffs for the smallest one that keeps the number
of stages. da4ml answers every probe of the bisection by running the whole pipeline again on
symbolic fixed-point variables (one Python object per operation, exact decimal intervals), tracing
the result and splitting it again. On a wide Deep Sets those re-runs are most of the generation
time (three probes: about 60 % of it for the 32-wide Deep Sets).

A probe only needs the number of stages, and that follows from the operations' latencies alone:
every adder adds its own delay (``dlat``) to the latest of its operands, and an adder that would
straddle a stage boundary starts at the boundary (da4ml's rule in ``FixedVariable``); muxes, table
look-ups, ReLUs, re-quantizations and constant additions do not move to the boundary. Each
operation's ``dlat`` is read back from the circuit traced at the requested cutoff (the rule is
invertible), and the latencies are propagated again for each probe: one pass over a list of numbers.
The bisection then runs exactly as da4ml's does, probe for probe, and da4ml builds the pipeline once,
at the cutoff the bisection settled on, with its own code. If da4ml's pipeline at that cutoff does
not have the predicted number of stages, da4ml's own retiming is run instead (and a warning says so),
so the result is always da4ml's.

:func:`pipeline` is a drop-in for ``to_pipeline(comb, cutoff)``: byte-identical Verilog
(tests/test_rtl_speed.py compares them on several models).
"""

from __future__ import annotations

import logging
from math import ceil, floor

log = logging.getLogger(__name__)

_BOUNDARY_OPS = (0, 1, 7)       # vadd, vsub, vmul: moved to the next stage boundary when they straddle one
_PASS_OPS = (2, -2, 3, -3, 4)   # relu, quantize (wrap), constant add: the latency of their operand
_CONST_OPS = (5,)               # constants (and dead operations): latency 0 as operands
_MUX_OPS = (6, -6)              # msb_mux: three operands, never moved to a boundary
_TABLE_OPS = (8,)               # look-up table: one operand, never moved to a boundary


def _operands(op) -> tuple[int, ...]:
    if op.opcode in _BOUNDARY_OPS:
        return op.id0, op.id1
    if op.opcode in _MUX_OPS:
        return op.data & 0xFFFFFFFF, op.id0, op.id1
    if op.opcode in _PASS_OPS or op.opcode in _TABLE_OPS:
        return (op.id0,)
    return ()


def _boundary(base: float, dlat: float, cutoff: float) -> float:
    """Latency of an adder of delay ``dlat`` on operands ready at ``base`` (da4ml's FixedVariable rule)."""
    lat = dlat + base
    if cutoff > 0 and ceil(lat / cutoff) > ceil(base / cutoff):
        if dlat > cutoff:
            raise AssertionError(f"an adder's delay {dlat} exceeds the cutoff {cutoff}")
        lat = ceil(base / cutoff) * cutoff + dlat
    return lat


def op_delays(comb, cutoff: float) -> list[float | None]:
    """Each operation's own delay, read back from ``comb`` traced at ``cutoff`` (None: no operands)."""
    ops = comb.ops
    lat = [0.0] * len(ops)
    dl: list[float | None] = [None] * len(ops)
    for i, op in enumerate(ops):
        if op.opcode == -1:
            lat[i] = op.latency   # an input (re-timed: 0)
        if op.opcode == -1 or op.opcode in _CONST_OPS:
            continue
        base = max((lat[j] for j in _operands(op)), default=0.0)
        if op.opcode in _BOUNDARY_OPS:
            edge = ceil(base / cutoff) * cutoff if cutoff > 0 else base
            dl[i] = op.latency - base if op.latency <= edge else op.latency - edge
        else:
            dl[i] = op.latency - base
        lat[i] = op.latency
        try:
            ok = dl[i] >= 0 and _propagate(op, base, dl[i], cutoff) == op.latency
        except AssertionError:
            ok = False
        if not ok:
            raise ValueError(f"operation {i} (opcode {op.opcode}): latency {op.latency} on operands at {base} "
                             f"does not follow da4ml's rule at cutoff {cutoff}")
    return dl


def _propagate(op, base: float, dlat: float, cutoff: float) -> float:
    return _boundary(base, dlat, cutoff) if op.opcode in _BOUNDARY_OPS else base + dlat


def stages_at(comb, delays: list[float | None], cutoff: float) -> int | None:
    """Number of stages da4ml's pipelining makes of ``comb`` re-timed at ``cutoff``; None where
    da4ml's re-run would fail (an adder slower than the cutoff)."""
    ops = comb.ops
    lat = [0.0] * len(ops)
    try:
        for i, op in enumerate(ops):
            d = delays[i]
            if d is None:
                continue
            base = max((lat[j] for j in _operands(op)), default=0.0)
            lat[i] = _propagate(op, base, d, cutoff)
    except AssertionError:
        return None
    top = max((lat[i] for i in comb.out_idxs if i >= 0), default=0.0)
    return floor(top / (cutoff + 1e-9)) + 1


def retime_cutoff(comb, first, cutoff: float) -> tuple[int | None, int]:
    """(the cutoff da4ml's retiming bisection settles on, or None when it keeps ``first``; the
    number of stages), for ``first = to_pipeline(comb, cutoff, retiming=False)``."""
    delays = op_delays(comb, cutoff)
    n_stages = len(first.solutions)
    high = ceil(max(max(sol.out_latency) / (i + 1) for i, sol in enumerate(first.solutions)))
    low, best, best_n = 0, None, n_stages
    while high - low > 1:
        mid = (high + low) // 2
        n = stages_at(comb, delays, mid)
        if n is None or n > n_stages:
            low = mid
        else:
            high, best, best_n = mid, mid, n
    return best, best_n


def pipeline(comb, cutoff: float):
    """``da4ml.trace.pipeline.to_pipeline(comb, cutoff)`` (retimed), with the retiming bisection's
    probes answered from the latencies; da4ml builds the one pipeline that is kept."""
    from da4ml.trace import FixedVariable, HWConfig, comb_trace
    from da4ml.trace.pipeline import retime_pipeline, to_pipeline

    first = to_pipeline(comb, cutoff, retiming=False)
    try:
        best, n = retime_cutoff(comb, first, cutoff)
    except ValueError as exc:   # a circuit outside the latency rules modelled here: da4ml's own search
        log.warning("retiming by da4ml's own search: %s", exc)
        return retime_pipeline(first, verbose=False)
    if best is None:
        return first
    hw = HWConfig(comb.adder_size, comb.carry_size, best)
    inp = [FixedVariable(*q, hwconf=hw) for q in first.inp_qint]
    out = to_pipeline(comb_trace(inp, list(first(inp))), best, retiming=False)
    if len(out.solutions) != n:
        log.warning("retimed pipeline at cutoff %s has %d stages, predicted %d: da4ml's own search",
                    best, len(out.solutions), n)
        return retime_pipeline(first, verbose=False)
    return out


_SAVING: list[type] = []


def fast_saving(pipe):
    """``pipe`` as a da4ml ``Pipeline`` whose ``save`` writes the same JSON in one C-encoded string
    (da4ml's ``json.dump`` streams it through the pure-Python encoder; ``VerilogModel.write`` saves
    the pipeline twice, model/comb.json and model/pipeline.json)."""
    if not _SAVING:
        from da4ml.cmvm.types import JSONEncoder, Pipeline

        class _FastSavingPipeline(Pipeline):
            __slots__ = ()

            def save(self, path) -> None:
                import json

                with open(path, "w") as f:
                    f.write(json.dumps(self, cls=JSONEncoder))

        _SAVING.append(_FastSavingPipeline)
    return _SAVING[0](*pipe)
