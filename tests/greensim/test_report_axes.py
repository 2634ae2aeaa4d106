"""greensim's bar charts (issue #23): a log axis only where the values span a decade, SI tick labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from greensim import report
from greensim.scenario import load_scenario, run_scenario

SCENARIOS = Path(report.__file__).parent / "scenarios"


@pytest.mark.parametrize("name", ["nca_training.toml", "cnn_snn.toml"])
def test_log_axis_only_over_a_decade(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib.figure

    seen: list[Any] = []
    original = matplotlib.figure.Figure.savefig

    def capture(self: Any, *a: Any, **kw: Any) -> Any:
        seen.append(self)
        return original(self, *a, **kw)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", capture)
    result = run_scenario(load_scenario(SCENARIOS / name))
    report.plot(result, tmp_path / "p.png")
    rows = ([result.baseline] if result.baseline is not None else []) + list(result.rows)
    for ax, values, bands in zip(seen[0].axes, ([r.facility_energy_j for r in rows], [r.co2e_g for r in rows]),
                                 ([r.band.facility_energy_j if r.band else None for r in rows],
                                  [r.band.co2e_g if r.band else None for r in rows]), strict=True):
        spread = [v for v in values + [x for b in bands if b is not None for x in b] if v > 0]
        assert (ax.get_xscale() == "log") is (max(spread) / min(spread) >= 10)
        seen[0].canvas.draw()
        labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        assert labels and all(t[-1] in "Jg" for t in labels)  # SI: "3 J", "300 µg"
