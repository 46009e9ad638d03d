"""A killed save_weights leaves a .part file and a killed report a .partial-* folder:
the next run in that folder removes them, and only those of dead processes (issue 15, 7)."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from helpers import mini_lstm

from scratchnet.report import staged_folder

ROOT = Path(__file__).resolve().parents[1]


def killed_while(code: str, folder: Path) -> None:
    """Run ``code`` in a subprocess until it prints 'ready', then SIGKILL it."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), str(folder)],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout.readline().strip() == "ready"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


SAVE = """
    import sys, time
    from pathlib import Path
    import numpy as np
    from scratchnet import Input, Sequential
    from scratchnet.layers import Dense

    def stall(f, array, **kwargs):
        f.write(b"half an array")
        f.flush()
        print("ready", flush=True)
        time.sleep(60)

    np.lib.format.write_array = stall
    model = Sequential([Input((3,)), Dense(2)])
    model.build()
    model.save_weights(Path(sys.argv[1]) / "w.npz")
"""

REPORT = """
    import sys, time
    from pathlib import Path
    from scratchnet.report import staged_folder

    with staged_folder(Path(sys.argv[1]) / "run") as folder:
        (folder / "half.png").write_bytes(b"half")
        print("ready", flush=True)
        time.sleep(60)
"""


def test_the_next_save_removes_part_files_of_killed_saves_only(tmp_path):
    killed_while(SAVE, tmp_path)
    first = [p.name for p in tmp_path.iterdir()]
    assert len(first) == 1 and first[0].startswith(".w.npz.") and first[0].endswith(".part")
    killed_while(SAVE, tmp_path)  # the second save removed the first one's leftover
    second = [p.name for p in tmp_path.iterdir()]
    assert len(second) == 1 and second != first
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        in_progress = tmp_path / f".w.npz.{live.pid}-0123abcd.part"  # another live writer's
        in_progress.write_bytes(b"being written")
        model = mini_lstm("float32")
        model.build()
        model.save_weights(tmp_path / "w.npz")
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["w.npz", in_progress.name])
    finally:
        live.kill()
        live.wait()
    fresh = mini_lstm("float32")
    fresh.load_weights(tmp_path / "w.npz")
    for a, b in zip(model.parameters, fresh.parameters, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_next_report_removes_staging_folders_of_killed_runs(tmp_path):
    killed_while(REPORT, tmp_path)
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].startswith(".run.partial-")
    (tmp_path / "keep.partial-notes").mkdir()  # not the pattern: never touched
    with staged_folder(tmp_path / "run2") as folder:
        (folder / "report.md").write_text("done")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.partial-notes", "run2"]
