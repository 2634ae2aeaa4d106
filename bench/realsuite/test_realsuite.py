"""A realistic suite of sub-microsecond, parametrised pytest-benchmark tests (issue #17).

Plain pytest-benchmark code -- no greenbench in it -- shaped like the
third-party suites greenbench met in the wild: dozens of tiny functions
(dict/str/int/json/path operations) that pytest-benchmark calibrates to
thousands of rounds each, with parameter ids such as ``[/tmp]`` that look
like rich markup.  ``bench/bench_overhead.py`` runs it with and without
greenbench and through the energy gate.

``REALSUITE_PLANT=<test id substring>`` makes the matching benchmarks do
~30-35% more work per call (the planted regression of the gate check).
"""

from __future__ import annotations

import json
import os
import posixpath

import pytest

PLANT = os.environ.get("REALSUITE_PLANT", "")

PATHS = ["/tmp", "/usr/lib/python3", "a/b/../c", "[bold]x[/bold]"]
KEYS = [1, 10, 100, 1000]
WORDS = ["a", "hello world", "x" * 64, "ünïcödé"]
DOCS = ["1", '{"a": 1}', "[1, 2, 3]", '"s"']
INTS = [0, 7, 2**31, 2**70]


def planted(request: pytest.FixtureRequest) -> bool:
    return bool(PLANT) and PLANT in request.node.nodeid


@pytest.mark.parametrize("path", PATHS, ids=PATHS)
def test_normpath(benchmark, path):
    benchmark(posixpath.normpath, path)


@pytest.mark.parametrize("path", PATHS, ids=PATHS)
def test_split(benchmark, path):
    benchmark(posixpath.split, path)


@pytest.mark.parametrize("n", KEYS)
def test_dict_get(benchmark, request, n):
    d = {i: i for i in range(n)}
    k = n - 1
    if planted(request):
        # ~30-35% more time per call (pytest-benchmark's min) here: a second lookup
        benchmark(lambda: d.get(k) and d[k])
    else:
        benchmark(lambda: d.get(k))


@pytest.mark.parametrize("n", KEYS)
def test_dict_contains(benchmark, n):
    d = {i: i for i in range(n)}
    benchmark(d.__contains__, n // 2)


@pytest.mark.parametrize("word", WORDS)
def test_upper(benchmark, word):
    benchmark(str.upper, word)


@pytest.mark.parametrize("word", WORDS)
def test_encode(benchmark, word):
    benchmark(str.encode, word)


@pytest.mark.parametrize("word", WORDS)
def test_startswith(benchmark, word):
    benchmark(word.startswith, "he")


@pytest.mark.parametrize("doc", DOCS)
def test_json_loads(benchmark, doc):
    benchmark(json.loads, doc)


@pytest.mark.parametrize("doc", DOCS)
def test_json_dumps_roundtrip(benchmark, doc):
    value = json.loads(doc)
    benchmark(json.dumps, value)


@pytest.mark.parametrize("x", INTS)
def test_int_str(benchmark, x):
    benchmark(str, x)


@pytest.mark.parametrize("x", INTS)
def test_int_hash(benchmark, x):
    benchmark(hash, x)


@pytest.mark.parametrize("x", INTS)
def test_int_add(benchmark, x):
    benchmark(x.__add__, 1)


@pytest.mark.parametrize("size", [1, 8, 64])
def test_list_copy(benchmark, size):
    data = list(range(size))
    benchmark(data.copy)


@pytest.mark.parametrize("size", [1, 8, 64])
def test_tuple_build(benchmark, size):
    data = list(range(size))
    benchmark(tuple, data)


@pytest.mark.parametrize("size", [1, 8])
def test_sorted_small(benchmark, size):
    data = list(range(size, 0, -1))
    benchmark(sorted, data)
