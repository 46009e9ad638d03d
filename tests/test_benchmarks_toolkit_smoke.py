"""Smoke test of benchmarks/bench_toolkit_kernels.py: every BatchNorm kernel family runs
once at tiny shapes against its reference. No timing is looked at."""

import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    sys.path.insert(0, str(BENCH_DIR))
    saved = {name: sys.modules.get(name)
             for name in ("common", "bench_kernels", "bench_toolkit_kernels")}
    yield
    for name, module in saved.items():
        if module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module


def test_toolkit_kernel_benchmarks_cover_every_batchnorm_kernel(bench):
    import bench_kernels
    import bench_toolkit_kernels

    result = bench_toolkit_kernels.run(repeats=1, min_run_time=0.0, tiny=True)
    assert result["errors"] == []
    families, _ = bench_kernels.discover()
    expected = {name for base, fam in families.items() if base.startswith("batchnorm_")
                for name in fam["kernels"]}
    assert len(expected) == 8  # four families, each a parallel kernel and its serial twin
    assert {row["kernel"] for row in result["rows"]} == expected
    assert "| kernel |" in bench_toolkit_kernels.to_markdown(result)
