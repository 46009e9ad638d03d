"""Smoke test of the benchmark harness (benchmarks/): the kernel-benchmark path runs once,
at tiny shapes and one repeat, and writes the JSON that run.py promises.

Nothing here looks at a timing: the numbers of a smoke run mean nothing, and timed
assertions are not allowed in this suite. torch is never imported.
"""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    """benchmarks/ importable for one test; sys.path and modules restored afterwards."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    sys.path.insert(0, str(BENCH_DIR))
    saved = {name: sys.modules.get(name) for name in ("common", "bench_kernels")}
    yield
    for name, module in saved.items():
        if module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module


def _load_run_module():
    spec = importlib.util.spec_from_file_location("benchmarks_run", BENCH_DIR / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_kernel_benchmarks_cover_every_case(bench):
    import bench_kernels

    result = bench_kernels.run(repeats=1, min_run_time=0.0, tiny=True)
    assert result["errors"] == []
    families, _ = bench_kernels.discover()
    expected = {name for case in bench_kernels.seed_cases(tiny=True)
                for name in families.get(case.base, {"kernels": {}})["kernels"]}
    assert expected, "no kernel found in scratchnet.kernels"
    assert {row["kernel"] for row in result["rows"]} == expected
    for row in result["rows"]:
        for key in ("kernel_time", "reference_time"):
            assert set(row[key]) == {"median_s", "min_s", "max_s", "runs"}
            assert row[key]["runs"] == 1
        assert row["speedup"] > 0
    json.dumps(result)  # JSON-serialisable as it stands
    assert "| kernel |" in bench_kernels.to_markdown(result)


def test_run_py_writes_json_and_markdown(bench, tmp_path):
    run = _load_run_module()
    had_torch = "torch" in sys.modules
    out_json, out_md = tmp_path / "r.json", tmp_path / "r.md"
    run.main(["--sections", "kernels", "--tiny", "--quick", "--repeats", "1",
              "--threads", "0", "--json", str(out_json), "--markdown", str(out_md)])
    report = json.loads(out_json.read_text())
    assert {"started", "command", "machine", "loadavg_start", "loadavg_end", "threads",
            "sections"} <= set(report)
    assert {"cpu", "cores", "numpy", "numba"} <= set(report["machine"])
    assert {"numba_threads", "numba_threading_layer", "omp_wait_policy"} <= set(report["threads"])
    kernels = report["sections"]["kernels"]
    assert "error" not in kernels and kernels["rows"]
    assert {"loadavg_before", "loadavg_after", "section_s"} <= set(kernels)
    assert "## Kernel micro-benchmarks" in out_md.read_text()
    assert had_torch or "torch" not in sys.modules  # run.py never imports torch itself
