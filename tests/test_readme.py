"""The README's runnable snippets run: a reader's first copy-paste must work."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
# Blocks that show an excerpt of a class body (indented defs with self) are not scripts.
RUNNABLE = [b for b in BLOCKS if not b.lstrip().startswith("def ")]


def test_readme_has_runnable_snippets():
    assert len(RUNNABLE) >= 2


def test_readme_snippets_run_in_order(capsys):
    namespace: dict = {}
    for block in RUNNABLE:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102
    out = capsys.readouterr().out
    assert "Total params:" in out and "'W':" in out


@pytest.mark.parametrize(("readme", "ci"), [
    ('pip install -e ".[dev]"', 'pip install --quiet --disable-pip-version-check -e ".[dev]"'),
    ("python -m pytest", "python -m pytest"),
])
def test_readme_and_ci_share_the_commands(readme, ci):
    assert readme in README.read_text()
    assert ci in (README.parent / ".ci" / "run").read_text()
