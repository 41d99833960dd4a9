"""fpgatag: jet tagging for Level-1 triggers, from simulated jets to bit-exact FPGA firmware.

The pipeline lives one stage per sub-package, each importing only the stages before it:

    core   shared bottom layer: errors, config, provenance, atomic writes, the data schema, metrics
    data   jets: Pythia 8 + FastJet generation, the two views, public-dataset readers, features
    nn     models: ParticleNet and dense teachers, quantized QKeras students
    train  teacher training, soft targets, distillation
    fpga   hls4ml conversion, resource/latency estimates, C-simulation validation
    report tables, plots, the end-to-end demo
    cli    the thin ``fpgatag`` command line over all of the above
"""

__version__ = "0.1.0"
