"""Which ``tf.distribute`` strategy a training uses, and how a multi-worker run fails.

* ``TF_CONFIG`` set: ``MultiWorkerMirroredStrategy`` over the workers it lists (one process per
  worker; worker 0, or the chief, writes the run directory). TensorFlow's coordination service is
  configured with bounded timeouts, so a worker that never joins, or dies during the run, ends every
  other worker with a one-line error instead of a hang (while the cluster forms, a watchdog process
  kills a worker still waiting after the timeout: TensorFlow waits there in uninterruptible C++):
  ``FPGATAG_CLUSTER_TIMEOUT_S`` (default 120 s) for all workers to join, ``FPGATAG_HEARTBEAT_TIMEOUT_S``
  (default 20 s) of silence before a worker counts as dead, and a collective-operation timeout of
  ``FPGATAG_COLLECTIVE_TIMEOUT_S`` (default 600 s, above any one training step).
* More than one GPU: ``MirroredStrategy`` over them.
* ``FPGATAG_CPU_REPLICAS=N`` (no GPU): the CPU is split into N logical devices and
  ``MirroredStrategy`` runs over them (the mirrored code path on a machine without GPUs; it is
  not faster than one device).
* Otherwise TensorFlow's default strategy (one GPU, or the CPU).

Wrap the training loop in :func:`failures` so a lost worker is reported as an
:class:`~fpgatag.core.errors.FpgatagError` naming what happened. In a multi-worker run only the
chief writes the run directory (:func:`is_chief`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from typing import Any, Iterator

from fpgatag.core.errors import FpgatagError

log = logging.getLogger(__name__)


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise FpgatagError(f"{name}: not a number of seconds: {raw!r}") from None
    if not 0 < value < 1e6:
        raise FpgatagError(f"{name}: must be between 0 and 1e6 seconds, got {raw}")
    return value


def read_tf_config() -> dict[str, Any] | None:
    """``TF_CONFIG`` checked: a cluster of worker (and chief) addresses and this process's task in it."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return None
    try:
        cfg = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise FpgatagError(f"TF_CONFIG: not JSON ({exc})") from None
    cluster, task = (cfg.get("cluster"), cfg.get("task")) if isinstance(cfg, dict) else (None, None)
    if not isinstance(cluster, dict) or not cluster or not all(
            isinstance(v, list) and v and all(isinstance(a, str) and ":" in a for a in v) for v in cluster.values()):
        raise FpgatagError("TF_CONFIG: cluster must map job names to lists of host:port addresses")
    unknown = sorted(set(cluster) - {"chief", "worker", "evaluator"})
    if unknown:
        raise FpgatagError(f"TF_CONFIG: cluster: unknown job {unknown[0]!r} (chief, worker)")
    if not isinstance(task, dict) or task.get("type") not in cluster or not isinstance(task.get("index"), int) \
            or not 0 <= task["index"] < len(cluster[task["type"]]):
        raise FpgatagError(f"TF_CONFIG: task must name a job of the cluster and an index in it, got {task!r}")
    return cfg


def select_strategy():
    """(tf.distribute.Strategy, description) for this process; see the module docstring."""
    import tensorflow as tf

    cfg = read_tf_config()
    if cfg is not None:
        return _multi_worker(tf, cfg)
    gpus = tf.config.list_physical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy(), f"mirrored ({len(gpus)} GPUs)"
    replicas = os.environ.get("FPGATAG_CPU_REPLICAS")
    if replicas and not gpus:
        return _cpu_mirrored(tf, replicas)
    return tf.distribute.get_strategy(), "default (1 GPU)" if gpus else "default (CPU)"


strategy = select_strategy   # the same function, by its short name


def is_chief(strategy) -> bool:
    """Whether this process writes the outputs: always, except on the non-chief workers of a multi-worker run."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0
                                             and "chief" not in resolver.cluster_spec().as_dict())


def _multi_worker(tf, cfg: dict[str, Any]):
    from tensorflow.python.eager import context
    from tensorflow.tsl.protobuf import coordination_config_pb2

    cluster, task = cfg["cluster"], cfg["task"]
    jobs = [j for j in ("chief", "worker") if j in cluster]
    n = sum(len(cluster[j]) for j in jobs)
    join_s = _seconds("FPGATAG_CLUSTER_TIMEOUT_S", 120.0)
    if context.context().coordination_service is None:   # before the strategy starts its server
        context.context().configure_coordination_service(
            service_type="standalone", service_leader=f"/job:{jobs[0]}/replica:0/task:0",
            cluster_register_timeout_in_ms=int(join_s * 1000),
            heartbeat_timeout_in_ms=int(_seconds("FPGATAG_HEARTBEAT_TIMEOUT_S", 20.0) * 1000),
            shutdown_barrier_timeout_in_ms=int(join_s * 1000),
            coordinated_jobs=[coordination_config_pb2.CoordinatedJob(name=j, num_tasks=len(cluster[j])) for j in jobs])
    options = tf.distribute.experimental.CommunicationOptions(
        timeout_seconds=_seconds("FPGATAG_COLLECTIVE_TIMEOUT_S", 600.0))
    log.info("multi-worker training: task %s/%d of %d workers; waiting up to %.0f s for all to join",
             task["type"], task["index"], n, join_s)
    try:
        with failures(), _join_deadline(join_s, n):
            strat = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    except ValueError as exc:   # a TF_CONFIG TensorFlow cannot use
        raise FpgatagError(f"TF_CONFIG: {exc}") from None
    except tf.errors.UnknownError as exc:   # "Could not start gRPC server": this task's port is taken
        raise FpgatagError(f"TF_CONFIG: task {task['type']}/{task['index']} cannot listen on "
                           f"{cluster[task['type']][task['index']]} ({exc.message}); is the port in use?") from None
    return strat, f"multi-worker-mirrored ({n} workers, task {task['type']}/{task['index']})"


# The watchdog is a separate process: TensorFlow waits for missing workers inside a C++ call that holds
# the GIL (no Python thread or signal handler runs until it returns, and its own register timeout is
# not applied there), so only another process can end the wait.
_WATCHDOG = """import os, sys, time
pid, seconds, message = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
time.sleep(seconds)
if os.getppid() == pid:
    sys.stderr.write(message + "\\n")
    sys.stderr.flush()
    os.kill(pid, 9)
"""


@contextlib.contextmanager
def _join_deadline(seconds: float, n: int) -> Iterator[None]:
    """Kill this process with one line on stderr if the cluster has not formed after ``seconds``."""
    import subprocess
    import sys

    message = (f"fpgatag: error: multi-worker training: not all {n} workers of TF_CONFIG joined within {seconds:g} s "
               "(FPGATAG_CLUSTER_TIMEOUT_S); start every worker and check the addresses")
    watchdog = subprocess.Popen([sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(seconds), message])
    try:
        yield
    finally:
        watchdog.kill()
        watchdog.wait()


def _cpu_mirrored(tf, replicas: str):
    try:
        n = int(replicas)
    except ValueError:
        n = 0
    if n < 1:
        raise FpgatagError(f"FPGATAG_CPU_REPLICAS: must be a positive integer, got {replicas!r}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    except RuntimeError:   # devices already initialised in this process: keep what exists
        pass
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    if len(devices) < n:
        raise FpgatagError(f"FPGATAG_CPU_REPLICAS={n}: TensorFlow was initialised with {len(devices)} CPU device(s) "
                           "before the strategy was chosen; set it before anything runs")
    devices = devices[:n]
    return tf.distribute.MirroredStrategy(devices), f"mirrored ({n} logical CPU devices)"


@contextlib.contextmanager
def failures() -> Iterator[None]:
    """Turn a lost or silent worker of a multi-worker run (TensorFlow's unavailable, deadline-exceeded,
    aborted or cancelled errors) into a one-line FpgatagError; nothing is saved by the caller."""
    import tensorflow as tf

    lost = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.AbortedError,
            tf.errors.CancelledError)
    try:
        yield
    except lost as exc:
        if read_tf_config() is None:
            raise
        import re

        detail = re.sub(r"\{\{[^}]*\}\}", "", " ".join(str(exc.message or exc).split())).strip()
        detail = detail.split(". ")[0][:240]
        raise FpgatagError(f"multi-worker training: a worker was lost or did not answer ({type(exc).__name__}: "
                           f"{detail}); the run is abandoned, nothing was saved") from None
