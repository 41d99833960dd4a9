"""`make bench` reproduces every benchmark figure the README quotes: each results file it links has
a recipe in bench/run_all.py (the RTL flow has its own target, `make bench-rtl`), whose scripts exist."""

import importlib.util
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OWN_TARGETS = {"rtl": "bench-rtl", "distill_large": "bench-distill-full", "distill_large_converged": "bench-distill-full"}   # results made by their own make target


def _run_all():
    spec = importlib.util.spec_from_file_location("run_all", ROOT / "bench" / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_quoted_result_has_a_recipe(tmp_path):
    quoted = set(re.findall(r"bench/results/(\w+)\.md", (ROOT / "README.md").read_text())) - {"summary"}
    recipes = _run_all().recipes(tmp_path, quick=False)
    makefile = (ROOT / "Makefile").read_text()
    assert quoted, "the README quotes no benchmark"
    for name in sorted(quoted):
        if name in OWN_TARGETS:
            assert f"{OWN_TARGETS[name]}:" in makefile, name
            continue
        assert name in recipes, f"bench/results/{name}.md is quoted in the README but bench/run_all.py does not make it"
    for name, commands in recipes.items():
        for cmd in commands:
            scripts = [Path(c) for c in cmd if c.endswith(".py")]
            assert all(p.is_file() for p in scripts), (name, scripts)


# results file: (script, arguments that re-render its Markdown from the stored JSON in --out, other JSON it reads)
RENDERS = {
    "fpga": ("bench_fpga.py", ["--render", "{out}/fpga.json"], []),
    "estimator": ("bench_estimator.py", ["--render", "{out}/estimator.json"], []),
    "teacher": ("bench_teacher.py", ["--render", "{out}/teacher.json"], []),
    "rtl": ("bench_rtl.py", ["--merge", "--models"], []),
    "rtl_fit": ("bench_rtl_fit.py", ["--refit"], ["rtl"]),
}


def test_results_re_render_from_their_json(tmp_path, monkeypatch, capsys):
    """Each script's Markdown, rendered again from its committed JSON, is the committed Markdown."""
    import shutil
    import sys

    results = ROOT / "bench" / "results"
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    for name, (script, args, also) in RENDERS.items():
        out = tmp_path / name
        out.mkdir()
        for stem in (name, *also):
            shutil.copy2(results / f"{stem}.json", out / f"{stem}.json")
        spec = importlib.util.spec_from_file_location(f"render_{name}", ROOT / "bench" / script)
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, spec.name, module)
        spec.loader.exec_module(module)
        assert module.main([*(a.format(out=out) for a in args), "--out", str(out)]) == 0, name
        assert (out / f"{name}.md").read_text() == (results / f"{name}.md").read_text(), name
    capsys.readouterr()


def test_netlist_model_constants_are_the_committed_fit():
    """fpgatag.fpga.rtl.NETLIST_FIT (the netlist model every RTL manifest carries) is the fit that
    bench/results/rtl_fit.json holds: a refit that is not carried into the code fails here."""
    from fpgatag.fpga.rtl import NETLIST_FIT

    fit = json.loads((ROOT / "bench" / "results" / "rtl_fit.json").read_text())["fit"]
    assert NETLIST_FIT["n"] == fit["n"] and NETLIST_FIT["lut_model"] == fit["lut_best"]
    assert NETLIST_FIT["lut_factor"] == fit["lut_factor"]
    assert (NETLIST_FIT["lut_a"], NETLIST_FIT["lut_b"]) == (fit["lut_power"]["a"], fit["lut_power"]["b"])
    loo = fit["lut_loo"][fit["lut_best"]]
    assert (NETLIST_FIT["lut_loo_median_abs_err"], NETLIST_FIT["lut_loo_max_abs_err"]) == (loo["median_abs_err"], loo["max_abs_err"])
    ff = fit["ff_loo"][fit["ff_best"]]
    assert NETLIST_FIT["ff_factor"] == (fit["ff_factor"] if fit["ff_best"] == "factor" else 1.0)
    assert NETLIST_FIT["ff_median_abs_err"] == ff["median_abs_err"]


def test_rtl_bench_keeps_yosys_figures_only_for_the_same_rtl(monkeypatch):
    """A row redone without Yosys keeps the earlier Yosys counts only when it is the same circuit."""
    import sys

    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location("bench_rtl_carry", ROOT / "bench" / "bench_rtl.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    same = {"da4ml_lut": 100.0, "da4ml_ff": 20, "rtl_stages": 3, "n_params": 50}
    old = {**same, "yosys_lut": 90, "yosys_ff": 18, "logic_depth": 12, "csim_jets_per_s": None}
    new = {**same, "yosys_s": "not run (--no-yosys-for)", "csim_jets_per_s": 4000}
    got = module.carry_yosys(old, new)
    assert got["yosys_lut"] == 90 and got["logic_depth"] == 12 and got["csim_jets_per_s"] == 4000 and "yosys_from" in got
    other = {**new, "da4ml_lut": 101.0}
    assert module.carry_yosys(old, other) == other                      # another circuit: nothing carried
    fresh = {**same, "yosys_lut": 95}
    assert module.carry_yosys(old, fresh) == fresh                      # Yosys was run: its own figures
