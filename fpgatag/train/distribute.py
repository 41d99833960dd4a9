"""Which devices a training runs on: the ``tf.distribute`` strategy, and which worker writes.

``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` is set, ``MirroredStrategy`` with more than one
GPU, TensorFlow's default strategy otherwise (one GPU, or the CPU). In a multi-worker run only the
chief writes the run directory (:func:`is_chief`).
"""

from __future__ import annotations

import os


def select_strategy():
    """(strategy, description): multi-worker with TF_CONFIG, mirrored with >1 GPU, else default."""
    import tensorflow as tf

    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy(), "multi-worker-mirrored"
    gpus = tf.config.list_physical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy(), f"mirrored ({len(gpus)} GPUs)"
    return tf.distribute.get_strategy(), "default (1 GPU)" if gpus else "default (CPU)"


def is_chief(strategy) -> bool:
    """Whether this process writes the outputs: always, except on the non-chief workers of a multi-worker run."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0
                                             and "chief" not in resolver.cluster_spec().as_dict())
