"""The results schema has one owner (greenbench.results) and one version.

``golden_results.json`` is a results file as this schema version writes it.
A change of the energy block's fields without a bump of SCHEMA_VERSION fails
here; so does a reader that stops accepting the golden file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes import make_entry, make_record
from hypothesis import given
from hypothesis import strategies as st

from greenbench import results as R
from greenbench.errors import DataError

GOLDEN = Path(__file__).with_name("golden_results.json")


def test_golden_file_loads_and_matches_the_current_writer(tmp_path: Path) -> None:
    data = R.load(GOLDEN)
    golden = data["benchmarks"][0]["extra_info"]["energy"]
    assert golden["schema_version"] == R.SCHEMA_VERSION
    written = make_record([1.0, 2.0, 3.0]).to_json()
    assert sorted(written) == sorted(golden), (
        "the energy block's fields changed: bump greenbench.results.SCHEMA_VERSION, teach the reader the old "
        "version, and regenerate tests/greenbench/golden_results.json"
    )
    rec = R.record(data["benchmarks"][0])
    assert rec is not None and rec.per_call_j["median"] == 2.0 and rec.estimated is True


def test_record_round_trips() -> None:
    rec = make_record([0.5, 0.25], warnings=("spread",), threads=2)
    assert R.EnergyRecord.from_json(rec.to_json()) == rec


def test_unknown_schema_version_is_refused_by_name(tmp_path: Path) -> None:
    doc = json.loads(GOLDEN.read_text())
    doc["greenbench"]["schema_version"] = 99
    path = tmp_path / "future.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=r"future\.json: greenbench: unknown greenbench schema_version 99"):
        R.load(path)
    doc["greenbench"]["schema_version"] = 1
    doc["benchmarks"][0]["extra_info"]["energy"]["schema_version"] = "2"
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=r"test_golden\) energy: unknown greenbench schema_version '2'"):
        R.load(path)


def test_a_missing_field_is_named() -> None:
    block = make_record().to_json()
    del block["per_call_j"]
    with pytest.raises(DataError, match="missing field"):
        R.EnergyRecord.from_json(block)


@given(st.one_of(st.integers(), st.text(max_size=3), st.booleans(), st.floats(allow_nan=True)))
def test_every_version_but_the_known_ones_is_refused(version: object) -> None:
    entry = make_entry()
    entry["extra_info"]["energy"]["schema_version"] = version
    if version in R.KNOWN_VERSIONS and not isinstance(version, bool):
        assert R.energy(entry) is not None
    else:
        with pytest.raises(DataError, match="schema_version"):
            R.energy(entry)
