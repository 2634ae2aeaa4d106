"""index.html of the report folder (greenbench.outputs.html), checked as text and in headless Chromium."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from fakes import make_entry

from greenbench.gate import GateRule, compare_entries
from greenbench.outputs import browser
from greenbench.outputs import html as htmlreport
from greenbench.outputs.report import write_report

REQUIRE = os.environ.get("GREENBENCH_REQUIRE_BROWSER") == "1"


class Section:
    TITLE = "Family"

    @staticmethod
    def render(benchmarks: list[dict[str, Any]], out_dir: Path) -> str:
        (out_dir / "artifacts").mkdir(exist_ok=True)
        (out_dir / "artifacts" / "pic.png").write_bytes((out_dir / "energy_per_workload.png").read_bytes())
        return "| a | b |\n|---|---|\n| 1 | 2 |\n\n![picture](artifacts/pic.png)\n"


def run_output() -> dict[str, Any]:
    bs = [
        make_entry("test_kind[fast]", [1.0, 1.1, 1.2], group="sorts", extra={"quality": {"accuracy": 0.9}}),
        make_entry("test_kind[slow]", [2.0, 2.1, 2.2], group="sorts", extra={"quality": {"accuracy": 0.95}}),
        make_entry("test_train_mlp", [20.0, 21.0, 22.0], group="deep-train", extra={"quality": {"accuracy": 0.97}}),
        make_entry("test_counter", [0.01, 0.011, 0.012], group="c", estimated=False, source="rapl"),
        make_entry("test_<script>", [0.5, 0.5, 0.5], group="odd"),
    ]
    return {"machine_info": {"node": "n", "greenbench": {"meter": {"source": "model", "estimated": True,
                                                                    "reason": "no RAPL here"}}},
            "commit_info": {"id": "abcdef1234567"}, "benchmarks": bs, "datetime": "2024-05-01T10:00:00"}


@pytest.fixture
def report(tmp_path: Path) -> Path:
    out = run_output()
    base = {b["fullname"]: make_entry(b["name"], [x / 1.5 for x in b["extra_info"]["energy"]["rounds_j"]],
                                      fullname=b["fullname"]) for b in out["benchmarks"]}
    verdicts = [compare_entries(base[b["fullname"]], b, GateRule.parse("10%")) for b in out["benchmarks"]]
    write_report(out, tmp_path / "report", sections=[Section], verdicts=verdicts)
    return tmp_path / "report"


def test_page_is_self_contained(report: Path) -> None:
    page = (report / "index.html").read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing fetched from the network
    assert "default-src 'none'" in page  # and the browser is told so
    assert page.count("data:image/png;base64,") >= 3  # two plots + the section's picture
    assert 'src="artifacts/' not in page


def test_page_shows_table_verdicts_sections_and_meter(report: Path) -> None:
    page = (report / "index.html").read_text()
    assert page.count('<tr data-estimated="') == 5
    assert page.count('data-estimated="1"') == 4
    assert "21 J*" in page and "11 mJ*" not in page  # the counter's figure is not marked
    assert 'id="verdicts"' in page and "regression" in page
    assert "<h2>Family</h2>" in page and "<table>" in page
    assert "no RAPL here" in page and "4 of 5 figures are estimated" in page
    assert "test_&lt;script&gt;" in page and "<script>\"" not in page  # names are escaped


def test_names_are_whole_test_ids(report: Path) -> None:
    page = (report / "index.html").read_text()
    assert "test_kind[fast]" in page and "test_kind[slow]" in page


def test_embed_images_leaves_remote_and_parent_paths() -> None:
    frag = '<img src="https://x/y.png"><img src="../secret.png"><img src="missing.png">'
    assert htmlreport.embed_images(frag, Path("/nonexistent")) == frag


@pytest.mark.skipif(browser.find_chromium() is None and not REQUIRE,
                    reason="chromium is not installed (apt-get install chromium); .ci/run installs it and sets "
                           "GREENBENCH_REQUIRE_BROWSER=1 to make this test mandatory")
def test_page_in_headless_chromium(report: Path) -> None:
    check = browser.check_page(report / "index.html", report / "index.png")
    assert check.ready, "the page's script did not run"
    assert check.js_errors == ""
    assert check.rows == 5
    assert check.estimated_rows == 4
    assert check.sorted_by == "energy / call desc"
    # after the script sorted by energy (descending), the training run heads the table
    body = check.dom.split('<table id="energy"', 1)[1]
    first = re.search(r'<td class="name">([^<]*)</td>', body)
    assert first is not None and first.group(1) == "test_train_mlp"
    assert (report / "index.png").stat().st_size > 10_000
