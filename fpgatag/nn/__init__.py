"""Models: ParticleNet and dense teachers, quantized QKeras students, and the input specification
(:mod:`fpgatag.nn.inputs`) that fixes exactly what a model sees, in Keras and in firmware alike."""
