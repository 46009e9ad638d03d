"""examples/backprop_walkthrough.ipynb runs top to bottom, offline, on the bundled sample.

The notebook checks its own results (asserts in its cells: every gradient against finite
differences, the CNN's test accuracy), so a cell that fails fails this test. It runs in
a fresh kernel with ``SCRATCHNET_DATA`` unset and every HTTP(S) request sent to a
closed port, from a scratch folder, with this checkout's scratchnet.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the dev extra installs nbformat")
nbclient = pytest.importorskip("nbclient", reason="the dev extra installs nbclient")
pytest.importorskip("ipykernel", reason="the dev extra installs ipykernel")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "backprop_walkthrough.ipynb"
CELL_TIMEOUT_S = 120  # a hang guard, not a speed check (the whole notebook takes ~30 s)


def test_notebook_runs_top_to_bottom_offline(tmp_path, monkeypatch):
    monkeypatch.delenv("SCRATCHNET_DATA", raising=False)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
        "commit the notebook without outputs"
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "test accuracy" in text and "relative error" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # accuracy and loss curves, confusion matrix
    assert list(tmp_path.iterdir()) == []  # the notebook writes no files
