"""``import scratchnet`` sets the thread pools' defaults, and a user's own setting wins."""

import json
import os
import subprocess
import sys

import pytest

DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_THREAD_TIMEOUT": "4"}
SHOW = ("import json, os, scratchnet; "
        f"print(json.dumps({{k: os.environ.get(k) for k in {sorted(DEFAULTS)!r}}}))")


def env_after_import(**overrides) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in DEFAULTS}
    env.update(overrides)
    out = subprocess.run([sys.executable, "-c", SHOW], env=env, capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)


def test_import_sets_the_defaults():
    assert env_after_import() == DEFAULTS


@pytest.mark.parametrize("var", sorted(DEFAULTS))
def test_a_users_setting_wins(var):
    assert env_after_import(**{var: "7"})[var] == "7"
