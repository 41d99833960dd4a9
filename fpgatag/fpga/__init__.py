"""Firmware stage: hls4ml conversion, resource/latency estimates, bit-exact C simulation.

Public API (imported lazily so ``fpgatag --help`` stays fast)::

    synth(model, part="xcvu9p", output_dir=..., ...) -> dict      # fpgatag.fpga.synth
    validate(model, data, n=10000, ...) -> dict                   # fpgatag.fpga.validate
    estimate_model(keras_model, hls_config, part, ...) -> dict    # fpgatag.fpga.estimate
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
