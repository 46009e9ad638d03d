"""Shared test settings.

* Hypothesis profiles: 'default' keeps the whole suite within a few minutes on two
  cores; set HYPOTHESIS_PROFILE=thorough for a longer search.
* ``slow`` tests (long real-data training) run only with ``--runslow``. Markers stay
  plain filters: ``-m realdata`` selects the real-data tests and still skips the slow
  ones among them, saying how to run them.
* No test may write into ``$SCRATCHNET_DATA`` (the shared reference data): the folder
  is listed before and after the session, and any change fails the run.
"""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", max_examples=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="also run the tests marked slow (long real-data training runs)")
    parser.addoption("--with-torch", action="store_true", default=False,
                     help="also run the optional checks marked torch (PyTorch/Keras as "
                          "outside oracles, PyTorch in the benchmark harness)")


def pytest_collection_modifyitems(config, items):
    # PyTorch (and Keras on it) belong to benchmarks and optional checks, never to the
    # default run: the tests that use them are opt-in, as the slow ones.
    skips = {"slow": ("--runslow", "slow (long real-data run): run with --runslow"),
             "torch": ("--with-torch", "optional check with PyTorch/Keras: run with "
                                       "--with-torch (pip install torch==2.13.0)")}
    for marker, (option, reason) in skips.items():
        if config.getoption(option):
            continue
        for item in items:
            if marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


def _listing(root: Path) -> dict[str, tuple[int, int]]:
    """Every entry under ``root``: relative path -> (size, modification time in ns)."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            st = path.lstat()
            out[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture(scope="session", autouse=True)
def reference_data_is_never_written():
    env = os.environ.get("SCRATCHNET_DATA")
    root = Path(env) if env else None
    before = _listing(root) if root and root.is_dir() else None
    yield
    if before is not None:
        after = _listing(root)
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        assert not changed, f"the test run wrote into SCRATCHNET_DATA={root}: {changed[:10]}"
