"""Reports: collect run artifacts into tables, plots and a self-contained HTML page; the demo and sweeps."""
