"""The ``scratchnet`` command line: data, warmup, gradcheck, and how a command is added."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from scratchnet import cli

ROOT = Path(__file__).resolve().parent.parent


def _run(*args, env=None, timeout=300):
    env = {**os.environ, **(env or {}),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "scratchnet", *args], env=env,
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          stdin=subprocess.DEVNULL)


def test_help_lists_every_command():
    result = _run("--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m scratchnet")
    for name in ("data", "warmup", "gradcheck"):
        assert name in result.stdout


def test_console_script_points_at_the_same_entry():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, func = scripts["scratchnet"].split(":")
    assert module == "scratchnet.cli" and callable(getattr(cli, func))


def test_data_hands_everything_to_the_data_cli(capsys):
    assert cli.main(["data", "list", "--no-verify"]) == 0
    out = capsys.readouterr().out
    assert "mnist-sample" in out and "emnist-sample" in out
    with pytest.raises(SystemExit) as info:
        cli.main(["data", "--help"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("usage: scratchnet data")


def test_gradcheck_prints_the_report_and_passes(capsys):
    assert cli.main(["gradcheck", "--trials", "1"]) == 0
    out = capsys.readouterr().out
    assert "| LSTM | U |" in out and "| seed CNN (small) | all parameters |" in out
    assert "largest of all:" in out


def test_warmup_compiles_then_finds_everything_cached(tmp_path):
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    cold = _run("warmup", "--dtype", "float32", "--models", "lstm", env=env)
    assert cold.returncode == 0, cold.stderr[-2000:]
    assert "compiled" in cold.stdout and "kernel specializations (float32)" in cold.stdout
    # Not a terminal: one line per model and dtype, no carriage-return bar, no notice.
    assert "warmup LSTM float32:" in cold.stderr and "\r" not in cold.stderr
    assert "first run only" not in cold.stderr
    warm = _run("warmup", "--dtype", "float32", "--models", "lstm", env=env)
    assert warm.returncode == 0, warm.stderr[-2000:]
    assert warm.stdout.startswith("nothing to compile"), warm.stdout


def test_bad_model_name_exits_2(capsys):
    assert cli.main(["warmup", "--models", "gru", "--quiet"]) == 2
    assert "unknown dtype or model gru" in capsys.readouterr().err


def test_a_new_command_is_one_decorated_function(capsys):
    @cli.command("hello", "say hello", cli.arg("--name", default="world"))
    def hello(args):
        print(f"hello {args.name}")
        return 3

    try:
        assert cli.main(["hello", "--name", "you"]) == 3
        assert capsys.readouterr().out == "hello you\n"
    finally:
        del cli.COMMANDS["hello"]
