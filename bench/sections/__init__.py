"""Report sections, one module per benchmark family.

Contract: each module defines ``TITLE: str`` and
``render(benchmarks: list[dict], out_dir: pathlib.Path) -> str`` returning a
Markdown body (no top-level heading).  ``benchmarks`` are the entries of the
run's pytest-benchmark JSON; read them only through :mod:`bench.results`.
A section may write PNGs into ``out_dir`` and link them relatively; it
returns "" when the run holds none of its benchmarks.  Every energy figure
not read off a counter carries :data:`bench.results.ESTIMATED_MARK`.
"""

#: modules rendered, in this order, by bench.report (missing ones are skipped)
FAMILIES = ("meters", "gate", "classic", "deep", "nca", "sorts", "greensim")
