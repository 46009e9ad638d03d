"""Smoke test of benchmarks/bench_rnn_kernels.py: every recurrent step kernel gets a row,
at tiny shapes and one repeat. No timing is looked at."""

import json
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.setattr(sys, "path", [str(BENCH_DIR), *sys.path])
    saved = {name: sys.modules.get(name)
             for name in ("common", "bench_kernels", "bench_rnn_kernels")}
    yield
    for name, module in saved.items():
        if module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module


def test_every_recurrent_step_kernel_has_a_row(bench):
    import bench_kernels
    import bench_rnn_kernels

    result = bench_rnn_kernels.run(repeats=1, min_run_time=0.0, tiny=True)
    assert result["errors"] == []
    families, _ = bench_kernels.discover()
    expected = {name for base, fam in families.items()
                if fam["module"] in ("scratchnet.kernels.gru", "scratchnet.kernels.simple_rnn")
                for name in fam["kernels"]}
    assert len(expected) == 12  # 6 families x (parallel, serial)
    assert {row["kernel"] for row in result["rows"]} == expected
    json.dumps(result)
    assert "| kernel |" in bench_kernels.to_markdown(result)
