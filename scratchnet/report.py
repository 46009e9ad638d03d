"""Writing results down: tables, the environment they came from, and all-or-nothing folders.

A result is only comparable with the software and hardware that produced it, so
:func:`environment` collects the versions, the CPU and the thread counts that a
report should state. Nothing here imports the rest of scratchnet.
"""

from __future__ import annotations

import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

__all__ = ["OutputFolderError", "environment", "markdown_table", "staged_folder", "text_table",
           "threads"]


class OutputFolderError(OSError):
    """An output folder cannot be used: it exists with files in it, or cannot be written."""


def _check(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> str:
    if len(align) != len(headers) or set(align) - {"l", "r"}:
        raise ValueError(f"align needs one 'l' or 'r' per column ({len(headers)}), got {align!r}")
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row {row!r} has {len(row)} cells for {len(headers)} columns")
    return align


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> str:
    """An aligned plain-text table for the terminal.

    Parameters
    ----------
    headers : sequence of str, length K
    rows : sequence of rows, each a sequence of K str
    align : str of length K
        ``'l'`` (left) or ``'r'`` (right, for numbers) per column.
    """
    _check(headers, rows, align)
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=True)]

    def line(cells):
        return "  ".join(str(c).ljust(w) if a == "l" else str(c).rjust(w)
                         for c, w, a in zip(cells, widths, align, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> str:
    """The same table in GitHub Markdown (``|`` in a cell is escaped)."""
    _check(headers, rows, align)

    def line(cells):
        return "| " + " | ".join(str(c).replace("|", r"\|") for c in cells) + " |"

    rule = "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    # platform.processor() is empty or just "x86_64" on Linux; /proc/cpuinfo names the chip.
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _git_revision(folder: Path) -> str | None:
    """``<short hash>`` of the checkout holding ``folder``, ``+ local changes`` if dirty."""
    try:
        def git(*args):
            return subprocess.run(["git", "-C", str(folder), *args], capture_output=True,
                                  text=True, timeout=10, check=True).stdout.strip()
        rev = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None  # not a git checkout, or no git: the package version must do
    return f"{rev} + local changes" if dirty else rev


def _blas() -> str:
    import numpy as np

    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - the config layout varies across NumPy versions
        return "unknown"


def environment(source: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Versions, platform, CPU, thread counts and load, as ``{label: value}`` strings.

    Call it when a run starts, so the git revision is that of the code that ran.

    Parameters
    ----------
    source : path, optional
        A file or folder inside the scratchnet checkout used, to record its git
        revision (omitted when it is not a git checkout).
    """
    info = {
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "scratchnet": _version("scratchnet"),
    }
    if source is not None:
        folder = Path(source)
        rev = _git_revision(folder if folder.is_dir() else folder.parent)
        if rev:
            info["scratchnet"] += f" (git {rev})"
    info.update({
        "numpy": f"{_version('numpy')} (BLAS: {_blas()})",
        "numba": _version("numba"),
        "matplotlib": _version("matplotlib"),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
    })
    info["threads"] = threads()
    if hasattr(os, "getloadavg"):
        # On a shared machine the load says how far the timings can be trusted.
        info["load average (1, 5, 15 min)"] = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    info["executable"] = sys.executable
    return info


def threads() -> str:
    """CPUs, the threads numba uses (and its threading layer, once one has run) and any
    thread-count environment variables, as one line."""
    import numba

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    env = {k: os.environ[k] for k in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS",
                                      "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
           if k in os.environ}
    try:
        layer = f", {numba.threading_layer()} layer"
    except ValueError:
        layer = ""  # no parallel kernel has run yet, so no layer has been chosen
    return (f"{os.cpu_count()} logical CPUs, {usable} usable; numba uses "
            f"{numba.get_num_threads()} threads{layer}"
            + "".join(f"; {k}={v}" for k, v in env.items()))


@contextmanager
def staged_folder(target: str | os.PathLike[str]):
    """Write a folder all at once: the files appear in ``target`` together, or not at all.

    Yields a hidden staging folder next to ``target`` (same file system, so the
    final rename is atomic). When the ``with`` block succeeds it is renamed to
    ``target``; when it raises (or is interrupted) it is deleted, along with any
    parent folders this call created, so a failed run leaves nothing behind. A run
    killed outright (SIGKILL, power loss) cannot clean up: its staging folder, named
    ``.<target>.partial-<pid>-<random>``, is removed by the next call in that folder
    once its process is gone (:func:`remove_stale_staging`).

    Parameters
    ----------
    target : path
        Must not exist, or be an empty folder.

    Raises
    ------
    OutputFolderError
        If ``target`` exists and is not an empty folder (results are never mixed
        with older ones), or if the staging folder cannot be created (the parent
        is not writable, is a file, is on a read-only file system...). Both are
        raised before the block runs, so a caller learns that the output is
        unusable before doing any work. Also if the final rename fails.
    """
    target = Path(target).absolute()
    if target.exists() and not (target.is_dir() and not any(target.iterdir())):
        raise OutputFolderError(f"the output folder {target} already exists and is not empty; "
                                "choose a new one")
    created = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
    remove_stale_staging(target.parent)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = _new_folder(target.parent, f".{target.name}.partial-{os.getpid()}-")
    except OSError as exc:
        _remove_empty(created)
        raise OutputFolderError(f"cannot write the output folder {target}: {exc}") from exc
    try:
        yield staging
        try:
            if target.exists():
                target.rmdir()  # empty (checked above); rename cannot replace a folder everywhere
            staging.rename(target)
        except OSError as exc:
            raise OutputFolderError(f"cannot move the finished report into {target}: "
                                    f"{exc}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_empty(created)
        raise


_STAGING = re.compile(r"^\..+\.partial-(?P<pid>\d+)-[0-9a-f]{8}$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def remove_stale_staging(parent: str | os.PathLike[str]) -> list[Path]:
    """Delete the staging folders in ``parent`` left by killed runs; return them.

    Only folders of :func:`staged_folder`'s naming pattern, and only when the process
    named in them no longer runs: a run in progress keeps its folder.
    """
    removed = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        m = _STAGING.match(entry.name)
        if m and entry.is_dir(follow_symlinks=False) and int(m["pid"]) != os.getpid() \
                and not _alive(int(m["pid"])):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
    return removed


def _new_folder(parent: Path, prefix: str) -> Path:
    # Not tempfile.mkdtemp: its folders are private (0700), and the staging folder
    # becomes the user's output folder, which should get the usual umask permissions.
    while True:
        folder = parent / f"{prefix}{secrets.token_hex(4)}"
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:  # deepest first
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (someone else wrote there) or gone: leave it
