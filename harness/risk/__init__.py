"""Risk sources: a scalar (and per-dimension) risk each step (registry in ``base``)."""
