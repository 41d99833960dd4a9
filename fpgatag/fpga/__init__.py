"""Firmware stage: hls4ml conversion, resource/latency estimates, bit-exact C simulation.

Public API (imported lazily so ``fpgatag --help`` stays fast)::

    synth(model, options=None, output_dir=..., **options) -> dict   # fpgatag.fpga.synth
    validate(model, data, n=10000, options=None, ...) -> dict       # fpgatag.fpga.validate
    estimate_model(keras_model, hls_config=None, options=None, ...) # fpgatag.fpga.estimate

``options`` is one :class:`fpgatag.fpga.options.FirmwareOptions` (part, backend, io_type,
reuse_factor, strategy, clock_period, input_precision, recurrent_static, hls_config), or its fields
given as keywords; the default part is :data:`fpgatag.fpga.parts.DEFAULT_PART`.
"""


def synth(*args, **kwargs):
    from fpgatag.fpga.synth import synth as _synth

    return _synth(*args, **kwargs)


def validate(*args, **kwargs):
    from fpgatag.fpga.validate import validate as _validate

    return _validate(*args, **kwargs)


def estimate_model(*args, **kwargs):
    from fpgatag.fpga.estimate import estimate_model as _estimate_model

    return _estimate_model(*args, **kwargs)
