"""Where parallel work runs: the local process pool or a Dask cluster, behind ``concurrent.futures``.

``generate``, ``sweep`` and ``validate`` submit their work (generation chunks, grid points, jet
chunks) to an :class:`~concurrent.futures.Executor` and nothing else, so one code path serves

* the local default: ``workers`` spawned processes (:class:`~concurrent.futures.ProcessPoolExecutor`),
  or the calling process itself for one worker (:class:`SerialExecutor`);
* a Dask cluster: ``scheduler="tcp://host:8786"`` connects a ``distributed.Client`` and uses its
  ``get_executor()``;
* any executor the caller already has (``executor=``; the caller keeps ownership).

Results come back keyed by the order of submission (:func:`map_ordered`), so what is written does not
depend on which worker ran what, or on a worker lost in the middle: Dask's scheduler reruns the tasks
of a worker that dies (up to ``distributed.scheduler.allowed-failures`` times, 3 by default).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import multiprocessing
import os
import threading
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from fpgatag.core.errors import ArgumentError, FpgatagError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0   # a scheduler that does not answer within this is reported, before any work


class SerialExecutor(Executor):
    """Runs each call at once in the calling process (one worker: no process start-up, signals as usual)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - handed to the caller through the future
            fut.set_exception(exc)
        return fut


@dataclass
class Engine:
    """An executor, how many tasks it runs at once (``slots``) and its name for the logs."""

    executor: Executor
    slots: int
    description: str
    client: Any = None   # the distributed.Client when the executor is a Dask one


def connect(address: str, timeout_s: float = CONNECT_TIMEOUT_S):
    """A ``distributed.Client`` on the scheduler at ``address``; one-line FpgatagError if none answers."""
    try:
        from distributed import Client
    except ImportError:
        raise ArgumentError("scheduler", ": dask.distributed is not installed (pip install 'dask[distributed]')") from None
    address = str(address).strip()
    if not address:
        raise ArgumentError("scheduler", ": empty address (give e.g. tcp://host:8786)")
    _check_address(address)
    logging.getLogger("distributed").setLevel(max(logging.getLogger("distributed").level, logging.ERROR))
    try:
        return Client(address, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ArgumentError("scheduler", f" {address}: no Dask scheduler answered within {timeout_s:g} s "
                           f"({reason})") from None


def _check_address(address: str) -> None:
    """Refuse a malformed address before a client exists (a half-made client hangs in its destructor)."""
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, loc = parse_address(address, strict=False)
        if scheme in ("tcp", "tls"):
            host, port = parse_host_port(loc)
            if not host or port is None:
                raise ValueError("no host:port")
    except (ValueError, TypeError) as exc:
        raise ArgumentError("scheduler", f" {address}: not a scheduler address ({exc}); give e.g. tcp://host:8786") from None


def _dask_slots(client) -> int:
    try:
        return max(1, sum(client.nthreads().values()))
    except Exception:  # noqa: BLE001 - a count for the submission window only
        return 1


def _describe(executor: Executor) -> tuple[int, str, Any]:
    client = getattr(executor, "_client", None)   # distributed.client.ClientExecutor
    if client is not None:
        n = _dask_slots(client)
        return n, f"Dask cluster {client.scheduler.address} ({n} worker thread(s))", client
    n = int(getattr(executor, "_max_workers", 0) or os.cpu_count() or 1)
    return n, f"{type(executor).__name__} ({n} worker(s))", None


@contextlib.contextmanager
def open_engine(workers: int = 1, scheduler: str | None = None, executor: Executor | None = None,
                initializer: Callable[[], None] | None = None, serial: bool = True) -> Iterator[Engine]:
    """The executor for one command: ``executor`` as given, a Dask client's on ``scheduler``, or a
    local pool of ``workers`` processes (``initializer`` runs in each; one worker runs in this process
    unless ``serial`` is False). Pools and clients opened here are closed on exit; on an exception
    (Ctrl-C included) a local pool's processes are stopped first."""
    if executor is not None and scheduler is not None:
        raise ArgumentError("scheduler", ": give a scheduler address or an executor, not both")
    if executor is not None:
        slots, desc, client = _describe(executor)
        yield Engine(executor, slots, desc, client)
        return
    if scheduler is not None:
        client = connect(scheduler)
        try:
            slots = _dask_slots(client)
            if not client.nthreads():
                log.warning("Dask scheduler %s has no workers yet: tasks wait until one joins", scheduler)
            yield Engine(client.get_executor(pure=False), slots,
                         f"Dask cluster {scheduler} ({slots} worker thread(s))", client)
        finally:
            client.close()
        return
    if int(workers) <= 1 and serial:
        yield Engine(SerialExecutor(), 1, "this process")
        return
    ctx = multiprocessing.get_context("spawn")   # safe even if TensorFlow is loaded in the parent
    n = max(1, int(workers))
    pool = ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=initializer)
    try:
        yield Engine(pool, n, f"local pool ({n} process{'es' if n > 1 else ''})")
    except BaseException:
        stop_pool(pool)
        raise
    pool.shutdown(wait=True)


def stop_pool(pool: Executor, grace_s: float = 5.0) -> None:
    """Cancel what is queued and stop a local pool's running processes now: SIGTERM (which unwinds a
    worker like Ctrl-C, removing its atomic outputs), then SIGKILL after ``grace_s``."""
    import signal
    import time

    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        if proc.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join(1.0)


def result(fut: Future, stop: threading.Event | None = None, poll_s: float = 0.2):
    """``fut.result()``, checking ``stop`` (a Ctrl-C/SIGTERM flag) while it waits."""
    while True:
        try:
            return fut.result(timeout=poll_s)
        except FutureTimeout:
            if stop is not None and stop.is_set():
                raise KeyboardInterrupt from None
        except BrokenProcessPool:
            raise FpgatagError("a local worker process died (killed, or out of memory); nothing was written. "
                               "Use --scheduler with a Dask cluster to have lost work redone") from None


def map_ordered(engine: Engine, fn: Callable, items: Iterable, window: int | None = None,
                stop: threading.Event | None = None) -> Iterator:
    """``fn(item)`` for every item, run on the engine and yielded in the order of ``items``, with at
    most ``window`` (default: twice the engine's slots) submitted and not yet yielded, so a huge job is
    never held in memory and results are written as they come, in order."""
    window = max(1, int(window or 2 * engine.slots))
    pending: collections.deque[Future] = collections.deque()
    items = iter(items)
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < window:
                try:
                    item = next(items)
                except StopIteration:
                    exhausted = True
                    break
                pending.append(engine.executor.submit(fn, item))
            if not pending:
                return
            yield result(pending[0], stop)
            pending.popleft()
    finally:
        for fut in pending:
            fut.cancel()
