"""The RTL generation's shortcuts give exactly da4ml's results.

fpgatag.fpga.rtl_pipeline answers da4ml's retiming bisection from the circuit's latencies instead
of da4ml's symbolic re-runs: held to da4ml's own ``to_pipeline`` on real QKeras models (average and
max pooling, an MLP), at clock periods where the retiming keeps the first split and where it moves
to a smaller cutoff, probe by probe, and byte for byte on the written Verilog.
fpgatag.fpga.rtl_cache keeps da4ml's constant-matrix solutions on disk: the Verilog from cached
solutions is byte for byte the Verilog from fresh ones.
"""

from __future__ import annotations

import logging

import pytest

from fpgatag.fpga.examples import deep_sets, mlp

IN_PREC = (10, 4)
PERIODS = (5.0, 8.0, 10.0)


def _comb(model, period: float):
    from fpgatag.fpga.rtl import latency_cutoff, trace   # first: it points numba's cache at fpgatag's
    from da4ml.trace import comb_trace

    inp, out, _ = trace(model, IN_PREC, period)
    return comb_trace(inp, out), latency_cutoff(period)


@pytest.fixture(autouse=True)
def _own_solution_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FPGATAG_CMVM_CACHE", str(tmp_path / "cmvm"))


@pytest.fixture(scope="module")
def models():
    return {"deepsets-avg": deep_sets(8, 5, (8, 8), (8,), 2, bits=6, seed=3, l1_like=True),
            "deepsets-max": deep_sets(8, 5, (8,), (8,), 2, bits=6, pooling="max", seed=5, sparsity=0.3),
            "mlp": mlp(12, (16, 8), 2, bits=6, seed=7, l1_like=True)}


def test_pipeline_is_da4ml_pipeline(models):
    """Equal to da4ml's retimed pipeline on every model and period; the retimed branch is exercised."""
    from da4ml.trace.pipeline import to_pipeline

    from fpgatag.fpga.rtl_pipeline import pipeline, retime_cutoff

    moved = []
    for name, model in models.items():
        for period in PERIODS:
            comb, cutoff = _comb(model, period)
            ours = pipeline(comb, cutoff)
            assert ours == to_pipeline(comb, cutoff, verbose=False), (name, period)
            best, n = retime_cutoff(comb, to_pipeline(comb, cutoff, retiming=False), cutoff)
            assert n == len(ours.solutions)
            if best is not None:
                moved.append((name, period, best))
    assert len(moved) >= 2, moved     # both branches: kept split and re-timed at a smaller cutoff


def _carry_chain_comb(carry_size: int = 4, cutoff: float = 9.0):
    """Dense -> ReLU -> quantize -> dense traced with a 4-bit carry chain: adders of 1-3 levels, so
    adders straddling a stage boundary move to it (fpgatag's own flow uses 1-level adders)."""
    import numpy as np

    from fpgatag.fpga.rtl import _matmul_rows   # first: numba's cache directory, before da4ml
    from da4ml.trace import FixedVariableArray, HWConfig, comb_trace

    rng = np.random.default_rng(1)
    inp = FixedVariableArray.from_kif(np.ones(12, np.int8), np.full(12, 3), np.full(12, 6), hwconf=HWConfig(1, carry_size, cutoff))
    h = _matmul_rows(inp, np.round(rng.laplace(size=(12, 16)) * 8) / 8, {}).relu()
    h = h.quantize(np.zeros(16, np.int8), np.full(16, 5), np.full(16, 4))
    return comb_trace(inp, _matmul_rows(h, np.round(rng.laplace(size=(16, 6)) * 8) / 8, {})), cutoff


def test_every_probe_is_da4ml_probe(models):
    """The predicted number of stages equals da4ml's re-run at every cutoff the bisection can probe,
    and None exactly where da4ml's re-run fails (an adder slower than the cutoff)."""
    from da4ml.trace import FixedVariable, HWConfig, comb_trace
    from da4ml.trace.pipeline import to_pipeline

    from fpgatag.fpga.rtl_pipeline import op_delays, stages_at

    cases = {"deepsets-max": _comb(models["deepsets-max"], 10.0), "mlp": _comb(models["mlp"], 10.0),
             "carry-chain": _carry_chain_comb()}
    failing = 0
    for name, (comb, cutoff) in cases.items():
        first = to_pipeline(comb, cutoff, retiming=False)
        delays = op_delays(comb, cutoff)
        for c in range(1, int(cutoff) + 1):
            hw = HWConfig(comb.adder_size, comb.carry_size, c)
            inp = [FixedVariable(*q, hwconf=hw) for q in first.inp_qint]
            try:
                real = len(to_pipeline(comb_trace(inp, list(first(inp))), c, retiming=False).solutions)
            except AssertionError:
                real, failing = None, failing + 1
            assert stages_at(comb, delays, c) == real, (name, c)
    assert failing >= 1


def test_carry_chain_pipeline_is_da4ml_pipeline():
    from da4ml.trace.pipeline import to_pipeline

    from fpgatag.fpga.rtl_pipeline import pipeline

    for cutoff in (5.0, 9.0):
        comb, _ = _carry_chain_comb(cutoff=cutoff)
        assert pipeline(comb, cutoff) == to_pipeline(comb, cutoff, verbose=False), cutoff


def test_circuit_outside_the_rules_falls_back_to_da4ml(models, caplog):
    """A latency that da4ml's rule cannot produce (an adder finishing before its operand): da4ml's
    own retiming runs, with one warning."""
    from da4ml.cmvm.types import CombLogic
    from da4ml.trace.pipeline import to_pipeline

    from fpgatag.fpga.rtl_pipeline import pipeline

    comb, cutoff = _comb(models["mlp"], 5.0)
    ops = list(comb.ops)
    i = max(k for k, op in enumerate(ops) if op.opcode in (0, 1))
    ops[i] = ops[i]._replace(latency=ops[i].latency - 3.0)
    bad = CombLogic(*(ops if f == "ops" else getattr(comb, f) for f in CombLogic._fields))
    with caplog.at_level(logging.WARNING, logger="fpgatag.fpga.rtl_pipeline"):
        assert pipeline(bad, cutoff) == to_pipeline(bad, cutoff, verbose=False)
    assert any("da4ml's own search" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("name,period", [("deepsets-avg", 5.0), ("deepsets-max", 10.0)])
def test_verilog_is_byte_identical_to_da4ml(models, name, period, tmp_path):
    """generate_rtl's src/ and model/ files are da4ml's to_pipeline + VerilogModel.write, byte for byte."""
    from da4ml.codegen import VerilogModel
    from da4ml.trace.pipeline import to_pipeline

    from fpgatag.fpga.convert import LoadedModel
    from fpgatag.fpga.parts import resolve_part
    from fpgatag.fpga.rtl import TOP, generate_rtl

    part = resolve_part("xcvu9p")
    ours, ref = tmp_path / "ours", tmp_path / "da4ml"
    ours.mkdir()
    generate_rtl(LoadedModel(models[name], tmp_path / "m.h5", IN_PREC), ours, part, period)
    comb, cutoff = _comb(models[name], period)
    VerilogModel(to_pipeline(comb, cutoff, verbose=False), TOP, ref, part_name=part.full, clock_period=period).write()
    files = sorted(p.relative_to(ref) for p in ref.rglob("*") if p.is_file() and p.parts[len(ref.parts)] in ("src", "model"))
    assert len([f for f in files if f.suffix == ".v"]) >= 3
    assert sorted(p.relative_to(ours) for p in ours.rglob("*") if p.is_file() and p.parts[len(ours.parts)] in ("src", "model")) == files
    for f in files:
        assert (ours / f).read_bytes() == (ref / f).read_bytes(), f


def _files(d):
    return {p.relative_to(d): p.read_bytes() for p in sorted(d.rglob("*"))
            if p.is_file() and p.parts[len(d.parts)] in ("src", "model", "sim")}


def test_cached_solutions_give_the_same_verilog(models, tmp_path, monkeypatch, caplog):
    """Cold cache, warm cache, a corrupt entry and no cache: the same bytes; one entry per distinct matrix."""
    from fpgatag.fpga.convert import LoadedModel
    from fpgatag.fpga.parts import resolve_part
    from fpgatag.fpga.rtl import generate_rtl

    part, cache = resolve_part("xcvu9p"), tmp_path / "solutions"
    lm = LoadedModel(models["deepsets-avg"], tmp_path / "m.h5", IN_PREC)

    def gen(name):
        (tmp_path / name).mkdir()
        man = generate_rtl(lm, tmp_path / name, part, 5.0)
        return man, _files(tmp_path / name)

    monkeypatch.setenv("FPGATAG_CMVM_CACHE", "off")
    _, fresh = gen("fresh")
    monkeypatch.setenv("FPGATAG_CMVM_CACHE", str(cache))
    man, cold = gen("cold")
    entries = sorted(cache.glob("*.json"))
    assert len(entries) == man["distinct_solved_matrices"] >= 2
    stamps = [p.stat().st_mtime_ns for p in entries]
    _, warm = gen("warm")
    assert [p.stat().st_mtime_ns for p in sorted(cache.glob("*.json"))] == stamps   # read, not rewritten
    entries[0].write_text("{")
    with caplog.at_level(logging.WARNING, logger="fpgatag.fpga.rtl_cache"):
        _, repaired = gen("repaired")
    assert any("unreadable cached solution" in r.getMessage() for r in caplog.records)
    assert len(fresh) >= 5 and fresh == cold == warm == repaired
    assert entries[0].read_text().startswith("[")   # solved again and rewritten
