"""Fast C simulation: a batch entry point next to hls4ml's bridge, run in parallel processes.

hls4ml's ``predict()`` calls the compiled bridge once per jet from Python (about 2k jets/s for a
16-object Deep Sets). Here a tiny C++ shim, linked against the library that hls4ml's
``compile()`` built, loops over a whole batch in C++, and the batch is split into chunks run by
worker threads. ctypes releases the GIL during a foreign call, so the C++ loops run truly in
parallel on all cores, without the start-up cost of processes (a spawned process re-imports
TensorFlow). The bridge's one-time static initialisation (weights read from text files, activation
tables) is not thread-safe, so one warm-up call runs first; after it the firmware model only reads
shared state. The shim calls the same ``<project>_float`` bridge function as ``predict()``, so
results are identical.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from fpgatag.core.errors import FpgatagError, ToolNotFoundError

SHIM = "fpgatag_batch"
_SHIM_SRC = """\
// Written by fpgatag: loop hls4ml's bridge over a batch in C++.
extern "C" void {project}_float(float *in, float *out);
extern "C" void {shim}_float(float *in, float *out, long n, long n_in, long n_out) {{
    for (long i = 0; i < n; i++) {{
        {project}_float(in + i * n_in, out + i * n_out);
    }}
}}
"""


def require_compiler() -> str:
    """Path of g++; ToolNotFoundError with a clear message when it is missing."""
    gxx = shutil.which("g++")
    if gxx is None:
        raise ToolNotFoundError("g++: not found on PATH; the C simulation (hls4ml compile) needs a C++ compiler "
                                "(install g++, e.g. `apt-get install g++`)")
    return gxx


def hls_library(hls_model) -> Path:
    """The shared library hls4ml's compile() built for this model."""
    lib = getattr(hls_model, "_top_function_lib", None)
    name = getattr(lib, "_name", None)
    if not name or not Path(name).is_file():
        raise FpgatagError("hls model: not compiled (call compile() first)")
    return Path(name).resolve()


def build_shim(hls_model) -> Path:
    """Compile the batch shim against the hls4ml library; returns the shim's path."""
    gxx = require_compiler()
    lib = hls_library(hls_model)
    project = hls_model.config.get_project_name()
    src = lib.parent / f"{SHIM}.cpp"
    out = lib.parent / f"{SHIM}-{lib.stem.split('-')[-1]}.so"
    src.write_text(_SHIM_SRC.format(project=project, shim=SHIM))
    cmd = [gxx, "-O2", "-fPIC", "-shared", str(src), "-o", str(out), str(lib), f"-Wl,-rpath,{lib.parent}"]
    log_path = lib.parent / f"{SHIM}.log"
    with open(log_path, "w") as fh:
        try:
            subprocess.run(cmd, check=True, stdout=fh, stderr=subprocess.STDOUT, cwd=lib.parent)
        except subprocess.CalledProcessError:
            raise FpgatagError(f"{src}: batch shim failed to compile (log: {log_path})") from None
    return out


_LIB: dict[str, ctypes.CDLL] = {}
_LOCK = threading.Lock()


def _function(shim: str):
    with _LOCK:
        lib = _LIB.get(shim)
        if lib is None:
            lib = ctypes.CDLL(shim)
            fn = getattr(lib, f"{SHIM}_float")
            ptr = np.ctypeslib.ndpointer(np.float32, flags="C_CONTIGUOUS")
            fn.argtypes = [ptr, ptr, ctypes.c_long, ctypes.c_long, ctypes.c_long]
            fn.restype = None
            _LIB[shim] = lib
    return getattr(lib, f"{SHIM}_float")


def _run_chunk(shim: str, x: np.ndarray, n_out: int) -> np.ndarray:
    x = np.ascontiguousarray(x.reshape(x.shape[0], -1), dtype=np.float32)
    out = np.zeros((x.shape[0], n_out), dtype=np.float32)
    _function(shim)(x, out, x.shape[0], x.shape[1], n_out)
    return out


def run_batch(shim: str | os.PathLike, x: np.ndarray, n_out: int, workers: int = 2,
              chunk: int = 4096) -> np.ndarray:
    """Run the C simulation on ``x`` (n, ...) -> (n, n_out) float32, on ``workers`` threads."""
    shim = str(shim)
    x = np.ascontiguousarray(x, dtype=np.float32)
    n = x.shape[0]
    workers = max(1, int(workers))
    if n == 0:
        return np.zeros((0, n_out), dtype=np.float32)
    first = _run_chunk(shim, x[:1], n_out)     # warm-up: one-time static initialisation
    if workers == 1 or n < 512:
        return np.concatenate([first, _run_chunk(shim, x[1:], n_out)], axis=0)
    size = max(256, min(int(chunk), -(-(n - 1) // workers)))
    pieces = [x[i:i + size] for i in range(1, n, size)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        outs = list(pool.map(lambda p: _run_chunk(shim, p, n_out), pieces))
    return np.concatenate([first] + outs, axis=0)
