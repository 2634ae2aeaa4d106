# restructure.py shim (issue #25)
"""Deprecated: moved to :mod:`greenbench.meters.counted.energy_model`."""
from greenbench._moved import alias

alias(__name__, "greenbench.counted_model", "greenbench.meters.counted.energy_model")
