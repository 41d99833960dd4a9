"""Knowledge-distillation loss (Hinton et al.) on logits.

    L = alpha * CE(y, softmax(s)) + (1 - alpha) * T^2 * KL(softmax(t / T) || softmax(s / T))

with ``s`` the student's logits, ``t`` the stored teacher logits, ``y`` the one-hot labels and
``T`` the temperature. The ``T^2`` factor keeps the soft term's gradients on the scale of the hard
term's when ``T`` changes. At ``alpha = 1`` the loss is plain cross-entropy from logits, which is how
the from-scratch baseline is trained.

Keras losses see one ``y_true`` tensor, so :class:`DistillationLoss` takes it packed:
``y_true = [one_hot(label) | teacher_logits]`` of shape ``(B, 2C)`` (see :func:`pack_targets`).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from fpgatag.core.errors import FpgatagError


def check_alpha_temperature(alpha: float, temperature: float) -> None:
    if not 0.0 <= float(alpha) <= 1.0:
        raise FpgatagError(f"alpha={alpha}: the weight of the label term must be in [0, 1]")
    if not float(temperature) > 0.0:
        raise FpgatagError(f"temperature={temperature}: must be positive")


def pack_targets(labels: np.ndarray, n_classes: int, teacher_logits: np.ndarray | None = None) -> np.ndarray:
    """``[one_hot(labels) | teacher_logits]`` as float32 (B, 2C); zeros stand in for no teacher."""
    labels = np.asarray(labels).astype(int).ravel()
    onehot = np.eye(n_classes, dtype=np.float32)[labels]
    if teacher_logits is None:
        teacher = np.zeros_like(onehot)
    else:
        teacher = np.asarray(teacher_logits, dtype=np.float32)
        if teacher.shape != onehot.shape:
            raise FpgatagError(f"teacher logits have shape {teacher.shape}, expected {onehot.shape} (jets x classes)")
    return np.concatenate([onehot, teacher], axis=1)


def distillation_loss(onehot, teacher_logits, student_logits, alpha: float = 0.5, temperature: float = 4.0):
    """Per-example distillation loss (a TensorFlow tensor of shape (B,))."""
    s = tf.convert_to_tensor(student_logits, tf.float32)
    y = tf.convert_to_tensor(onehot, tf.float32)
    loss = tf.zeros_like(s[:, 0])
    if alpha > 0.0:
        ce = -tf.reduce_sum(y * tf.nn.log_softmax(s, axis=-1), axis=-1)
        loss = loss + alpha * ce
    if alpha < 1.0:
        t = tf.convert_to_tensor(teacher_logits, tf.float32)
        log_pt = tf.nn.log_softmax(t / temperature, axis=-1)
        log_ps = tf.nn.log_softmax(s / temperature, axis=-1)
        kl = tf.reduce_sum(tf.exp(log_pt) * (log_pt - log_ps), axis=-1)
        loss = loss + (1.0 - alpha) * temperature**2 * kl
    return loss


@tf.keras.utils.register_keras_serializable(package="fpgatag")
class DistillationLoss(tf.keras.losses.Loss):
    """Keras loss on packed targets ``[one_hot | teacher_logits]`` (B, 2C) and student logits (B, C).

    ``from_probabilities``: the model outputs softmax probabilities (a teacher preset); their logs,
    clipped at 1e-7, stand in for the logits (``log_softmax(log p) = log p``)."""

    def __init__(self, alpha: float = 0.5, temperature: float = 4.0, n_classes: int = 2, name: str = "distillation",
                 from_probabilities: bool = False, **kwargs):
        super().__init__(name=name, **kwargs)
        check_alpha_temperature(alpha, temperature)
        self.alpha, self.temperature, self.n_classes = float(alpha), float(temperature), int(n_classes)
        self.from_probabilities = bool(from_probabilities)

    def call(self, y_true, y_pred):
        c = self.n_classes
        if self.from_probabilities:
            y_pred = tf.math.log(tf.clip_by_value(tf.cast(y_pred, tf.float32), 1e-7, 1.0))
        return distillation_loss(y_true[:, :c], y_true[:, c:], y_pred, self.alpha, self.temperature)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(alpha=self.alpha, temperature=self.temperature, n_classes=self.n_classes,
                   from_probabilities=self.from_probabilities)
        return cfg


def packed_accuracy(n_classes: int):
    """A Keras metric function: accuracy of logits against the one-hot half of packed targets."""

    def accuracy(y_true, y_pred):
        hit = tf.equal(tf.argmax(y_true[:, :n_classes], axis=-1), tf.argmax(y_pred, axis=-1))
        return tf.cast(hit, tf.float32)

    return accuracy


def distillation_loss_numpy(onehot, teacher_logits, student_logits, alpha: float, temperature: float) -> np.ndarray:
    """The same loss in float64 numpy (a reference for tests and checks)."""

    def log_softmax(z):
        z = np.asarray(z, np.float64)
        z = z - z.max(axis=-1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))

    y = np.asarray(onehot, np.float64)
    ce = -(y * log_softmax(student_logits)).sum(-1)
    lt, ls = log_softmax(np.asarray(teacher_logits) / temperature), log_softmax(np.asarray(student_logits) / temperature)
    kl = (np.exp(lt) * (lt - ls)).sum(-1)
    return alpha * ce + (1 - alpha) * temperature**2 * kl
