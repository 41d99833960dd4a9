"""Autoencoders that compress jets for the trigger: a quantized QKeras encoder, a float decoder.

The encoder is what would run in firmware on the detector side: ``QDense`` layers with
``quantized_relu`` activations, then a linear ``QDense`` named ``latent`` whose output is
quantized by ``latent_q`` to ``quantized_bits(latent_bits, latent_integer)`` -- the compressed
word that is stored or sent (``n_latent * latent_bits`` bits per jet). Like the students it
converts with hls4ml 1.3.0 and is bit-exact in C simulation on inputs on the input grid. The
decoder stays offline in floating point (Keras ``Dense`` + ``tanh``, as in the reference 4-to-3
jet autoencoder, with a linear output layer ``reconstruction``).

Layer names are deterministic: ``inputs``, ``enc1``, ``enc1_relu``, ..., ``latent``,
``latent_q`` (encoder), ``latent_in``, ``dec1``, ..., ``reconstruction`` (decoder).
"""

from __future__ import annotations

from typing import Sequence

from fpgatag.core.errors import FpgatagError
from fpgatag.nn.presets import preset_params
from fpgatag.nn.students import Quant, _units, check_bits


def latent_quantizer(latent_bits: int, latent_integer: int) -> str:
    """The latent's QKeras quantizer, as a string (round-trips through model.json)."""
    bits = check_bits(latent_bits, "latent_bits")
    if not 0 <= int(latent_integer) < bits:
        raise FpgatagError(f"latent_integer={latent_integer}: must be in [0, latent_bits={bits})")
    return f"quantized_bits({bits},{int(latent_integer)},alpha=1)"


def build_encoder(n_inputs: int, n_latent: int = 3, hidden: Sequence[int] = (32, 16), bits: int = 8,
                  latent_bits: int = 8, latent_integer: int = 3, weight_integer: int = 0):
    """The quantized encoder: (B, n_inputs) -> (B, n_latent) on the latent grid."""
    import tensorflow as tf
    from qkeras import QActivation

    (n_latent,) = _units(n_latent, "latent")
    if n_latent >= n_inputs:
        raise FpgatagError(f"latent size {n_latent} does not compress {n_inputs} inputs; use fewer than {n_inputs}")
    q = Quant(bits, weight_integer)
    x_in = tf.keras.Input(shape=(int(n_inputs),), name="inputs")  # (B, F)
    x = x_in
    for i, units in enumerate(_units(list(hidden), "encoder"), start=1):
        x = q.dense(units, f"enc{i}")(x)
        x = q.act(f"enc{i}_relu")(x)
    x = q.dense(n_latent, "latent")(x)  # (B, L), linear
    out = QActivation(latent_quantizer(latent_bits, latent_integer), name="latent_q")(x)
    return tf.keras.Model(x_in, out, name="encoder")


def build_decoder(n_latent: int, n_outputs: int, hidden: Sequence[int] = (16, 32)):
    """The float decoder: (B, n_latent) -> (B, n_outputs) in the normalised input space."""
    import tensorflow as tf

    z_in = tf.keras.Input(shape=(int(n_latent),), name="latent_in")
    x = z_in
    for i, units in enumerate(_units(list(hidden), "decoder"), start=1):
        x = tf.keras.layers.Dense(units, activation="tanh", name=f"dec{i}")(x)
    out = tf.keras.layers.Dense(int(n_outputs), name="reconstruction")(x)
    return tf.keras.Model(z_in, out, name="decoder")


def build_autoencoder(n_inputs: int, n_latent: int = 3, encoder: Sequence[int] = (32, 16),
                      decoder: Sequence[int] = (16, 32), bits: int = 8, latent_bits: int = 8,
                      latent_integer: int = 3, weight_integer: int = 0):
    """``(encoder, decoder, autoencoder)``; the autoencoder chains the two and is what trains."""
    import tensorflow as tf

    enc = build_encoder(n_inputs, n_latent, encoder, bits, latent_bits, latent_integer, weight_integer)
    dec = build_decoder(n_latent, n_inputs, decoder)
    x_in = tf.keras.Input(shape=(int(n_inputs),), name="ae_inputs")
    ae = tf.keras.Model(x_in, dec(enc(x_in)), name="autoencoder")
    return enc, dec, ae


# the autoencoder preset's params (its training loop maps them onto build_autoencoder)
preset_params("autoencoder", ("latent", "encoder", "decoder", "bits", "latent_bits", "latent_integer"))
