"""The README's snippets work as copied: a reader's first copy-paste must not fail.

* Every ```python block runs on its own, in a fresh interpreter (so a block that
  forgets an import fails here as it would for the reader), from a scratch folder.
* Every ```bash block's commands are checked without running them (some train for
  minutes): the scripts and modules they name exist and accept the flags they pass,
  the pip extras exist, and pytest knows the options.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TEXT = README.read_text()
PYTHON = re.findall(r"```python\n(.*?)```", TEXT, flags=re.S)
BASH = re.findall(r"```bash\n(.*?)```", TEXT, flags=re.S)
# What each python block must print, found by its first line.
EXPECTED = {
    "import numpy as np\nfrom scratchnet import Adam": "Total params:",
    "import numpy as np\nfrom scratchnet.gradcheck": "'W':",
    "from scratchnet.data import": "(4700, 28, 28, 1)",
}


def _run_python(block: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-c", block], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_readme_has_snippets():
    assert len(PYTHON) >= 4 and len(BASH) >= 4


@pytest.mark.parametrize("block", PYTHON, ids=[b.splitlines()[0][:40] for b in PYTHON])
def test_python_snippet_runs_alone(block, tmp_path):
    result = _run_python(block, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    for start, needle in EXPECTED.items():
        if block.startswith(start):
            assert needle in result.stdout, result.stdout[-2000:]


def test_readme_dense_pair_is_the_reference_one():
    (block,) = [b for b in PYTHON if b.startswith("def dense_forward")]
    namespace: dict = {}
    exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - the README's own code
    from scratchnet.reference import dense_backward, dense_forward

    rng = np.random.default_rng(0)
    x, W, b, dy = (rng.standard_normal(s) for s in ((4, 3), (3, 5), (5,), (4, 5)))
    y, cache = namespace["dense_forward"](x, W, b)
    y_ref, cache_ref = dense_forward(x, W, b)
    np.testing.assert_allclose(y, y_ref)
    for mine, ref in zip(namespace["dense_backward"](dy, cache),
                         dense_backward(dy, cache_ref), strict=True):
        np.testing.assert_allclose(mine, ref)


# -- the shell commands --------------------------------------------------------------------------
def _commands() -> list[list[str]]:
    out = []
    for block in BASH:
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):  # VAR=value prefixes
                words.pop(0)
            if words:
                out.append(words)
    return out


def _flags(words: list[str]) -> list[str]:
    return [w.split("=")[0] for w in words if w.startswith("--")]


@functools.cache
def _help(*args: str) -> str:
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, *args, "--help"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (args, result.stderr[-2000:])
    return result.stdout


COMMANDS = _commands()


@pytest.mark.parametrize("words", COMMANDS, ids=[" ".join(w)[:50] for w in COMMANDS])
def test_bash_command_names_what_exists(words):
    if words[0] == "pip":
        extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
            "optional-dependencies"]
        for spec in re.findall(r"\.\[([\w,]+)\]", " ".join(words)):
            assert set(spec.split(",")) <= set(extras), spec
        return
    if words[0] == "scratchnet":  # the console script: the same as python -m scratchnet
        words = ["python", "-m", "scratchnet", *words[1:]]
    if words[0] == "dask":  # Dask's command line, from the tune extra
        pytest.importorskip("distributed", reason="needs the [tune] extra")
        text = _help("-m", "distributed.cli.dask_" + words[1])
        for flag in _flags(words[2:]):
            assert flag in text, (words, flag)
        return
    assert words[0] == "python", words
    if words[1:3] == ["-m", "pytest"]:
        conftest = (ROOT / "tests" / "conftest.py").read_text()
        for flag in _flags(words):
            assert f'"{flag}"' in conftest, flag
        return
    if words[1] == "-m":
        module, rest = words[2], words[3:]
        sub = [rest[0]] if rest and not rest[0].startswith("-") else []
        text = _help("-m", module, *sub)
    else:
        script = ROOT / words[1]
        assert script.is_file(), words[1]
        rest = words[2:]
        text = _help(str(script))
    for flag in _flags(rest):
        assert flag in text, (words, flag)


def test_readme_and_ci_share_the_commands():
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install -e ".[dev,demo,tune]"' in TEXT
    assert '-e ".[dev,demo,tune]"' in ci.split("pip install", 1)[1].splitlines()[0]
    assert "python -m pytest" in TEXT and "python -m pytest" in ci
