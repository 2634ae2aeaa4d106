"""The summary says what it compared (issue #23): provenance at the top, no empty columns, honest footnotes."""

from __future__ import annotations

from typing import Any

from fakes import make_entry

from greenbench.gate import GateRule, Verdict
from greenbench.outputs import summary


def output(**gb: Any) -> dict[str, Any]:
    return {"datetime": "2026-12-06T10:00:00",
            "commit_info": {"id": "def5678901234567", "branch": "feature", "dirty": False},
            "machine_info": {"node": "ci-7", "system": "Linux", "cpu": {"brand_raw": "Xeon"},
                             "greenbench": {"meter": {"source": "model", "estimated": True},
                                            "codecarbon": {"on": True}}},
            "greenbench": {"schema_version": 2, **gb},
            "benchmarks": [make_entry("test_a", [1.0, 1.1, 1.2])]}


BASE = {"run": "0003_abc", "commit": "abc1234567890", "branch": "main", "date": "2026-12-05T09:00:00",
        "machine": "ci-7"}


def test_provenance_names_baseline_current_machine_meter_and_report() -> None:
    env = {"GITHUB_RUN_ID": "42", "GITHUB_REPOSITORY": "o/r", "GITHUB_SERVER_URL": "https://github.com"}
    lines = summary.provenance(output(baseline=BASE), env)
    text = "\n".join(lines)
    assert "**baseline:** run 0003\\_abc, commit abc123456789, branch main, 2026-12-05T09:00:00" in text
    assert "commit def567890123" in text and "branch feature" in text
    assert "ci-7" in text and "Xeon" in text
    assert "model (estimated); CodeCarbon side by side on" in text
    assert "(<https://github.com/o/r/actions/runs/42>)" in text
    given = summary.provenance(output(baseline=BASE), {"GREENBENCH_REPORT_URL": "https://x.invalid/r/index.html"})
    assert "[HTML report](<https://x.invalid/r/index.html>)" in "\n".join(given)
    assert not any("report" in line for line in summary.provenance(output(), {}))  # no URL: no link
    assert "none recorded" in summary.provenance(output(), {})[0]


def test_the_rendered_summary_starts_with_provenance() -> None:
    md = summary.render([], output()["benchmarks"], provenance=summary.provenance(output(baseline=BASE), {}))
    head = md.split("### ", 1)[0]
    assert "**baseline:**" in head and "**current:**" in head and "**machine:**" in head and "**meter:**" in head


def verdict(name: str, kind: str, **kw: Any) -> Verdict:
    fields: dict[str, Any] = {"change": 0.2, "confidence": 1.0, "baseline_j": 1.0, "current_j": 1.2, "rounds": (5, 5),
                              "reason": "rounds too spread", "raw_change": 0.2}
    fields.update(kw)
    return Verdict(name, kind, **fields)


def test_no_certainty_beside_inconclusive_and_no_all_dash_columns() -> None:
    cur = [make_entry("test_a", [1.2] * 5, fullname="t::a"), make_entry("test_b", [1.0] * 5, fullname="t::b")]
    vs = [verdict("t::a", "inconclusive"), verdict("t::b", "regression", cause="")]
    md = summary.render(vs, cur, rule=GateRule.parse("10%"))
    row_a = next(line for line in md.splitlines() if "t::a" in line)
    assert "sure" not in row_a and "rounds too spread" in row_a
    row_b = next(line for line in md.splitlines() if "t::b" in line)
    assert "100% of bootstrap resamples beyond the threshold" in row_b
    header = next(line for line in md.splitlines() if line.startswith("| | benchmark"))
    assert "quality" not in header  # every quality cell was "-": the column is dropped
    assert header.count("|") == next(line for line in md.splitlines() if "t::a" in line).count("|")


def test_drop_empty_columns_keeps_escaped_pipes() -> None:
    lines = ["| a | b | c |", "|---|---|---|", "| `x\\|y` | - | 1 |", "| z | - | 2 |"]
    assert summary.drop_empty_columns(lines, keep=(0,)) == ["| a | c |", "|---|---|", "| `x\\|y` | 1 |", "| z | 2 |"]


def test_footnote_says_over_clean_rounds_only_when_there_were_some() -> None:
    clean = [make_entry("test_a", [1.0] * 5)]
    busy = [make_entry("test_a", [1.0] * 5, contended=[True] * 5, contended_rounds=5)]
    assert summary.rounds_used(clean) == "over clean rounds"
    assert "no run had enough clean rounds" in summary.rounds_used(busy)
    assert "where a run had at least 3" in summary.rounds_used(clean + busy)
    md = summary.render([verdict("bench/test_x.py::test_a", "inconclusive")], busy, rule=GateRule.parse("10%"))
    assert "over clean rounds" not in md


def test_a_backtick_id_keeps_its_code_span() -> None:
    name = "t::test_x[a`b]"
    md = summary.render([verdict(name, "ok", cause="")], [make_entry("test_x", [1.0] * 5, fullname=name)],
                        rule=GateRule.parse("10%"))
    assert "``t::test_x[a`b]``" in md


def test_html_names_the_baseline(tmp_path: Any) -> None:
    from greenbench.outputs import html as htmlreport

    page = htmlreport.render(output(baseline=BASE), tmp_path)
    assert "baseline: run 0003_abc, commit abc123456789" in page
    assert "baseline: none (not compared)" in htmlreport.render(output(), tmp_path)
