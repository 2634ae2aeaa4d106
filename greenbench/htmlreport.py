# restructure.py shim (issue #25)
"""Deprecated: moved to :mod:`greenbench.outputs.html`."""
from greenbench._moved import alias

alias(__name__, "greenbench.htmlreport", "greenbench.outputs.html")
