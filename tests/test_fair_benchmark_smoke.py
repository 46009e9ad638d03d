"""Smoke test of the fair comparison (benchmarks/bench_fair.py through run.py): it runs
end to end on tiny random data, each framework in a child process, and writes the table,
the GEMM ceiling, the LSTM profile and the scaling plot.

Nothing here looks at a timing: the numbers of a smoke run mean nothing, and timed
assertions are not allowed in this suite. The PyTorch part is skipped, saying why, when
torch is not installed; this process never imports torch either way.
"""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parent.parent / "benchmarks"
HAS_TORCH = importlib.util.find_spec("torch") is not None


@pytest.fixture
def run_py(monkeypatch):
    """benchmarks/run.py as a module, with benchmarks/ importable for one test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    sys.path.insert(0, str(BENCH_DIR))
    names = ("common", "bench_fair", "bench_models", "bench_torch", "bench_lstm_profile",
             "bench_scaling", "plot_scaling")
    saved = {name: sys.modules.get(name) for name in names}
    spec = importlib.util.spec_from_file_location("benchmarks_run", BENCH_DIR / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    for name, mod in saved.items():
        if mod is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = mod


def _run(run_py, tmp_path, *extra):
    out_json, out_md = tmp_path / "r.json", tmp_path / "r.md"
    had_torch = "torch" in sys.modules
    run_py.main(["--quick", "--tiny", "--data", "random", "--models", "lstm", "--runs", "1",
                 "--threads", "0",
                 "--json", str(out_json), "--markdown", str(out_md),
                 "--plots", str(tmp_path / "plots"), *extra])
    assert had_torch or "torch" not in sys.modules, "the parent process imported torch"
    return json.loads(out_json.read_text()), out_md.read_text()


def _check_fair(fair: dict, frameworks: list[str], mode: str):
    assert "error" not in fair, fair.get("error")
    assert fair["frameworks"] == frameworks
    assert [(r["kind"], r["mode"]) for r in fair["rows"]] == [("lstm", mode)]
    for row in fair["rows"]:
        assert row["gemm_limit"]["median"] > 0
        for fw in frameworks:
            f = row["frameworks"][fw]
            assert f["samples_per_s"]["n"] == 1 and f["samples_per_s"]["median"] > 0
            assert f["max_rss_mb"]["median"] > 0
            # each framework ran alone: the others were never imported in its process
            assert f["imported"] == ({"scratchnet": ["scratchnet"], "pytorch": ["torch"]}[fw])
    ceiling = fair["ceiling"][0]
    assert ceiling["peak_gflops"] > 0
    names = {g["name"] for r in ceiling["rows"] for g in r["gemms"]}
    assert "lstm h @ U (per step)" in names


def test_fair_table_scratchnet_alone_with_profile_and_plot(run_py, tmp_path):
    report, md = _run(run_py, tmp_path, "--no-torch", "--modes", "infer",
                      "--sections", "fair,lstm_profile,epochs")
    _check_fair(report["sections"]["fair"], ["scratchnet"], "infer")
    assert "## Fair comparison" in md and "GEMM ceiling" in md
    profile = report["sections"]["lstm_profile"]
    assert "error" not in profile, profile.get("error")
    assert profile["all_gemms_s"] > 0 and "h @ U, per step (x28)" in profile["gemms_s"]
    epochs = report["sections"]["epochs"]
    assert "error" not in epochs, epochs.get("error")
    png = Path(epochs["plot"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.torch
@pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed (pip install torch==2.13.0); "
                    "the PyTorch side of the fair table is not exercised")
def test_fair_table_with_pytorch_in_its_own_process(run_py, tmp_path):
    report, md = _run(run_py, tmp_path, "--sections", "fair", "--modes", "train")
    fair = report["sections"]["fair"]
    _check_fair(fair, ["scratchnet", "pytorch"], "train")
    for row in fair["rows"]:
        assert row["frameworks"]["pytorch"]["scratchnet_over"]["median"] > 0
    assert "scratchnet / PyTorch" in md


def test_fair_table_has_the_recurrent_studys_rows(run_py, tmp_path, request):
    """GRU and SimpleRNN rows (issue 12's recipe), with PyTorch's models of the same size
    with --with-torch: nn.GRU has Keras's GRU count, nn.RNN a second bias (+128)."""
    with_torch = HAS_TORCH and request.config.getoption("--with-torch")
    extra = () if with_torch else ("--no-torch",)
    report, md = _run(run_py, tmp_path, "--sections", "fair", "--modes", "infer",
                      "--models", "gru,simplernn", *extra)
    fair = report["sections"]["fair"]
    assert "error" not in fair, fair.get("error")
    assert [(r["kind"], r["mode"]) for r in fair["rows"]] == [("gru", "infer"),
                                                              ("simplernn", "infer")]
    params = {r["kind"]: r["frameworks"]["scratchnet"]["params"] for r in fair["rows"]}
    assert params == {"gru": 71_983, "simplernn": 31_407}
    if with_torch:
        torch_params = {r["kind"]: r["frameworks"]["pytorch"]["params"] for r in fair["rows"]}
        assert torch_params == {"gru": 71_983, "simplernn": 31_407 + 128}
    names = {g["name"] for r in fair["ceiling"][0]["rows"] for g in r["gemms"]}
    assert {"gru h @ U (per step)", "simplernn h @ U (per step)"} <= names
    assert "| GRU infer |" in md and "| SimpleRNN infer |" in md
