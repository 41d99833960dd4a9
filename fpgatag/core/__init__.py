"""The bottom layer every stage shares. Nothing here imports a pipeline stage."""
