"""BackupAndRestore and initial_epoch: a killed training run, restarted, ends bit for bit
where an uninterrupted one does (issue 15, item 5)."""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import mini_cnn

from scratchnet.archive import read_archive
from scratchnet.backup import BACKUP_FILE
from scratchnet.callbacks import BackupAndRestore, Callback

ROOT = Path(__file__).resolve().parents[1]


def data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 12, 12, 1)).astype(np.float32), rng.integers(0, 5, n)


def fresh():
    model = mini_cnn("float32")  # has two Dropouts: their streams must be restored too
    model.compile("adam")
    return model


class Crash(Callback):
    """Raise after ``at`` batches in all: an in-process stand-in for a kill."""

    def __init__(self, at):
        self.at, self.done = at, 0

    def on_batch_end(self, batch, logs=None):
        self.done += 1
        if self.done == self.at:
            raise RuntimeError("crash")


def weights(model):
    return [p.copy() for p in model.parameters]


@pytest.mark.parametrize("save_freq, crash_at", [(1, 5), (2, 8), (3, 13), ("epoch", 14)])
def test_resume_after_a_crash_matches_the_uninterrupted_run(tmp_path, save_freq, crash_at):
    x, y = data()
    reference = fresh()
    reference.fit(x, y, batch_size=16, epochs=3, verbose=0, validation_split=0.1)
    model = fresh()
    backup = BackupAndRestore(tmp_path / "b", save_freq=save_freq)
    with pytest.raises(RuntimeError, match="crash"):
        model.fit(x, y, batch_size=16, epochs=3, verbose=0, validation_split=0.1,
                  callbacks=[backup, Crash(crash_at)])
    assert (tmp_path / "b" / BACKUP_FILE).exists()
    resumed = fresh()  # a new process would build a new model
    history = resumed.fit(x, y, batch_size=16, epochs=3, verbose=0, validation_split=0.1,
                          callbacks=[BackupAndRestore(tmp_path / "b", save_freq=save_freq)])
    for a, b in zip(weights(reference), weights(resumed), strict=True):
        np.testing.assert_array_equal(a, b)
    assert resumed.optimizer.iterations == reference.optimizer.iterations
    assert history.epoch[-1] == 2
    assert not (tmp_path / "b").exists()  # deleted after a normal end, as Keras


def test_initial_epoch_starts_the_count_there():
    x, y = data()
    model = fresh()
    history = model.fit(x, y, batch_size=16, epochs=3, initial_epoch=2, verbose=0)
    assert history.epoch == [2] and model.optimizer.iterations == 6


def test_a_backup_of_another_run_is_refused(tmp_path):
    x, y = data()
    model = fresh()
    with pytest.raises(RuntimeError):
        model.fit(x, y, batch_size=16, epochs=2, verbose=0,
                  callbacks=[BackupAndRestore(tmp_path, save_freq=1), Crash(2)])
    with pytest.raises(ValueError, match="samples in .* batches per epoch"):
        fresh().fit(x, y, batch_size=8, epochs=2, verbose=0,
                    callbacks=[BackupAndRestore(tmp_path)])


WORKER = textwrap.dedent("""
    import sys
    import numpy as np
    from scratchnet import Input, Sequential
    from scratchnet.callbacks import BackupAndRestore
    from scratchnet.layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D

    backup_dir, out = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((960, 16, 16, 1)).astype(np.float32)
    y = rng.integers(0, 6, len(x))

    def make():
        model = Sequential([Input((16, 16, 1)), Conv2D(16, 3, activation="relu"), MaxPool2D(),
                            Dropout(0.25), Flatten(), Dense(32, activation="relu"),
                            Dropout(0.5), Dense(6, activation="softmax")], seed=7)
        model.compile("adam")
        return model

    # Load every kernel first (on a throwaway model), so that kills land in training.
    make().fit(x[:128], y[:128], batch_size=32, verbose=0, validation_split=0.5)
    model = make()
    print("training", flush=True)
    model.fit(x, y, batch_size=32, epochs=4, verbose=0, validation_split=0.1,
              callbacks=[BackupAndRestore(backup_dir, save_freq=2, delete_checkpoint=False)])
    print("trained", flush=True)
    model.save_weights(out)
""")


EPOCHS, STEPS = 4, 27  # 864 training samples in batches of 32
KILLS = 12


def start(script, backup_dir, out):
    return subprocess.Popen([sys.executable, str(script), str(backup_dir), str(out)],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_sigkill_at_random_points_then_resume_is_bit_identical(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    # Twice: the first run fills numba's cache, so every timed or killed run after it
    # loads the same compiled kernels (compiling in-process may differ, issue 15 item 4).
    for run in range(2):
        ref = start(script, tmp_path / f"ref_backup{run}", tmp_path / "ref.npz")
        assert ref.stdout.readline().strip() == "training"
        began = time.monotonic()
        assert ref.stdout.readline().strip() == "trained"
        train_time = time.monotonic() - began  # not the process's exit, which takes a while
        assert ref.wait(timeout=300) == 0

    backup_dir, out = tmp_path / "backup", tmp_path / "out.npz"
    pick = random.Random(int.from_bytes(os.urandom(4), "little"))
    positions, kills, parts = [], 0, 0
    targets = sorted(pick.uniform(0, 1) for _ in range(KILLS))
    while kills < KILLS:
        proc = start(script, backup_dir, out)
        assert proc.stdout.readline().strip() == "training"
        # Kill points spread over the whole run: the next target, counted from where the
        # backup stands (a target already passed kills at once, while it restores).
        done = (positions[-1][0] * STEPS + positions[-1][1]) / (EPOCHS * STEPS) \
            if positions else 0.0
        time.sleep(max(0.0, targets[kills] - done) * train_time + pick.uniform(0, 0.02))
        if proc.poll() is not None:  # finished before the kill: start over for more kills
            assert proc.returncode == 0
            out.unlink()
            for f in backup_dir.iterdir():
                f.unlink()
            positions.append((0, 0))
            targets = sorted(pick.uniform(0, 1) for _ in range(KILLS))
            continue
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        parts += len(list(backup_dir.glob("*.part")))  # killed mid-write: a temp, not a backup
        backups = [f for f in backup_dir.glob("*") if not f.name.endswith(".part")]
        assert [f.name for f in backups] in ([], [BACKUP_FILE])
        if backups:  # every backup parses, whenever the kill came
            _, meta = read_archive(backups[0], kind="training backup")
            positions.append((meta["position"]["epoch"], meta["position"]["batch"]))
    final = start(script, backup_dir, out)
    assert final.wait(timeout=120) == 0
    assert not list(backup_dir.glob("*.part"))  # the kills' half-written temps were cleaned
    print(f"{kills} kills ({parts} mid-write); backups at (epoch, batch) {positions}")
    assert any(batch not in (0, STEPS) for _, batch in positions), "no kill landed mid-epoch"
    with np.load(tmp_path / "ref.npz") as a, np.load(out) as b:
        assert a.files == b.files
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])
