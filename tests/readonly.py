"""A folder that is truly read-only, for root too: a read-only bind mount.

Permission bits do not stop root (the kernel ignores them for uid 0), so a folder
made with ``chmod 555`` is writable in a test run as root, as on many CI machines.
A read-only *mount* stops everyone: writes fail with EROFS. Mounting needs no
privilege inside a new user and mount namespace (``unshare --map-root-user
--mount``), which lasts as long as the one child process run inside it, so the code
under test runs in a subprocess there and nothing outside sees the mount.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _unshare() -> str:
    exe = shutil.which("unshare")
    if exe is None:
        pytest.skip("no unshare(1): cannot make a read-only mount for this test")
    probe = subprocess.run([exe, "--map-root-user", "--mount", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("user and mount namespaces are not allowed here: "
                    f"{probe.stderr.decode().strip()}")
    return exe


def run_with_read_only(folder: Path, code: str, mountpoint: Path | None = None,
                       timeout: float = 120) -> subprocess.CompletedProcess:
    """Run Python ``code`` in a child that sees ``folder`` read-only (at ``mountpoint``).

    ``mountpoint`` defaults to ``folder`` itself (the child sees it read-only in place);
    otherwise it must be an existing empty folder, where the child sees ``folder``'s
    contents read-only. The child imports this checkout's scratchnet.
    """
    target = mountpoint or folder
    script = (f"mount --bind {shlex.quote(str(folder))} {shlex.quote(str(target))} && "
              f"mount -o remount,bind,ro {shlex.quote(str(target))} && "
              f"exec {shlex.quote(sys.executable)} -c {shlex.quote(code)}")
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([_unshare(), "--map-root-user", "--mount", "sh", "-c", script],
                          capture_output=True, text=True, env=env, timeout=timeout)
