# restructure.py shim (issue #25)
"""Deprecated: moved to :mod:`greenbench.meters.counted.calibrate`."""
from greenbench._moved import alias

alias(__name__, "greenbench.calibrate", "greenbench.meters.counted.calibrate")
