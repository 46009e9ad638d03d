"""Smoke tests of the kernel benchmarks kept in files of their own
(benchmarks/bench_rnn_kernels.py, bench_toolkit_kernels.py, bench_augment_kernels.py):
every kernel of their families gets a row, at tiny shapes and one repeat. No timing is looked at."""

import importlib
import json
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.setattr(sys, "path", [str(BENCH_DIR), *sys.path])
    names = ("common", "bench_kernels", "bench_rnn_kernels", "bench_toolkit_kernels",
             "bench_augment_kernels")
    saved = {name: sys.modules.get(name) for name in names}
    yield
    for name, module in saved.items():
        if module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module


@pytest.mark.parametrize("module, in_family, count", [
    # 6 recurrent step families x (parallel, serial)
    ("bench_rnn_kernels", lambda base, fam: fam["module"] in (
        "scratchnet.kernels.gru", "scratchnet.kernels.simple_rnn"), 12),
    # four BatchNorm families, each a parallel kernel and its serial twin
    ("bench_toolkit_kernels", lambda base, fam: base.startswith("batchnorm_"), 8),
    # affine sampling forward and backward, each a parallel kernel and its serial twin
    ("bench_augment_kernels", lambda base, fam: base.startswith("affine_sample_"), 4),
])
def test_every_kernel_of_the_family_has_a_row(bench, module, in_family, count):
    import bench_kernels

    bench_module = importlib.import_module(module)
    result = bench_module.run(repeats=1, min_run_time=0.0, tiny=True)
    assert result["errors"] == []
    families, _ = bench_kernels.discover()
    expected = {name for base, fam in families.items() if in_family(base, fam)
                for name in fam["kernels"]}
    assert len(expected) == count
    assert {row["kernel"] for row in result["rows"]} == expected
    json.dumps(result)
    to_markdown = getattr(bench_module, "to_markdown", bench_kernels.to_markdown)
    assert "| kernel |" in to_markdown(result)
