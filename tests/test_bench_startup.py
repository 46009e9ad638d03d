"""benchmarks/bench_startup.py: the child measures and records compiles; the report reads them.

No timing is asserted (speed is measured in benchmarks/, never asserted in tests).
"""

import json
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture
def bench_startup(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH_DIR))
    import bench_startup

    yield bench_startup
    for name in ("bench_startup", "common"):
        sys.modules.pop(name, None)


def test_child_reports_the_step_and_what_compiled(bench_startup):
    result = bench_startup.first_batch_child("lstm", batch=16)
    json.dumps(result)  # goes back to the parent as JSON
    assert result["total_s"] >= result["first_step_s"] > 0 and result["total_cpu_s"] > 0
    for c in result["compiles"]:
        assert c["kernel"].startswith("scratchnet.") and c["seconds"] > 0
    assert result["compile_s"] == pytest.approx(sum(c["seconds"] for c in result["compiles"]))


def test_report_names_the_targets_and_the_slowest_kernels(bench_startup):
    def child(total, compiles):
        return {"import_s": 0.3, "build_s": 0.1, "first_step_s": total - 0.4,
                "second_step_s": 0.05, "total_s": total, "total_cpu_s": total * 0.9,
                "child_wall_s": total + 0.2,
                "compile_s": sum(c["seconds"] for c in compiles), "compiles": compiles}

    compiles = [{"kernel": f"scratchnet.kernels.k.k{i}", "signature": "array(float32, 2d, C)",
                 "seconds": 0.1 * (i + 1)} for i in range(20)]
    result = {"import": {"runs": 1, "bare_interpreter_s": 0.02, "numpy_s": 0.1,
                         "scratchnet_s": 0.01, "child_wall_s": 0.2},
              "first_batch": {"rows": [
                  {"kind": "cnn", "cold": child(5.0, compiles), "warm": child(0.7, [])},
                  {"kind": "lstm", "cold": child(4.5, compiles[:3]), "warm": child(0.4, [])}]}}
    text = bench_startup.to_markdown(result)
    # Judged from the end of the import (the words) and with the import (0.3 s).
    assert "<= 6 s: met after import, met with it" in text  # 4.7 s and 5.0 s
    assert "<= 4 s: NOT met after import, NOT met with it" in text  # 4.2 s and 4.5 s
    assert "<= 0.5 s: met after import, NOT met with it" in text  # 0.4 s and 0.7 s
    assert "<= 0.5 s: met after import, met with it" in text  # 0.1 s and 0.4 s
    assert "`kernels.k.k19` | f32[2d,C] |" in text  # slowest first, signature shortened
    assert "(5 more)" in text
