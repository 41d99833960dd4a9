"""The data stage: simulated jets (generate), the trigger view (views), reading any supported file
(io, readers), feature builders (features), and the inspect/merge tools. See docs/data.md."""
