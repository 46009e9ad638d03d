"""One line on stderr while numba compiles scratchnet's kernels, so a first run does not look hung.

numba compiles each kernel the first time it meets a new dtype and caches the result
on disk; with an empty cache, the first training step of a seed model spends several
seconds compiling. Once the compiling of kernels for one dtype has gone on for
``THRESHOLD_S`` seconds in all, this module prints::

    scratchnet: compiling kernels for float32, first run only (cached for later runs)

at most once per dtype and process. A kernel loaded from numba's cache is not a
compilation (numba sends no event for it), so a warm cache prints nothing, and work
that compiles for less than the threshold stays silent too.

It listens to numba's ``"numba:compile"`` events (:mod:`numba.core.event`) and only
to those of functions defined in scratchnet, so it needs no change to any kernel and
says nothing about other libraries' functions. ``import scratchnet`` installs it;
:func:`uninstall` removes it and :func:`quiet` silences it for a block (the
``warmup`` command shows a progress bar instead). :func:`record` lists what compiled
and how long each took, for ``warmup`` and ``benchmarks/bench_startup.py``.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from numba.core import event

__all__ = ["THRESHOLD_S", "Compile", "install", "message", "quiet", "record", "uninstall"]

#: Seconds of compiling (in all, per dtype) before the line appears.
THRESHOLD_S = 1.0


def message(dtype: str | None) -> str:
    """The line printed, for a dtype name such as ``"float32"`` (None if unknown)."""
    what = f"kernels for {dtype}" if dtype else "kernels"
    return f"scratchnet: compiling {what}, first run only (cached for later runs)"


def _is_ours(data: dict) -> bool:
    func = getattr(data.get("dispatcher"), "py_func", None)
    return getattr(func, "__module__", "").split(".")[0] == "scratchnet"


def _dtype(data: dict) -> str | None:
    """The floating dtype of the first float array argument of the kernel compiled."""
    for arg in data.get("args") or ():
        dtype = getattr(arg, "dtype", None)
        if dtype is not None and str(dtype).startswith("float"):
            return str(dtype)
    return None


class _Notice(event.Listener):
    """Times nested compile events; a timer prints the line once a dtype passes the threshold."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.lock = threading.Lock()
        self.depth = 0
        self.started = 0.0
        self.dtype: str | None = None
        self.spent: dict[str | None, float] = {}
        self.printed: set[str | None] = set()
        self.timer: threading.Timer | None = None
        self.muted = 0

    def on_start(self, ev: event.Event) -> None:
        if not _is_ours(ev.data):
            return
        with self.lock:
            self.depth += 1
            if self.depth > 1:  # a kernel compiling a helper: part of the outer compile
                return
            self.started = time.perf_counter()
            self.dtype = _dtype(ev.data)
            if self.dtype in self.printed or self.muted:
                return
            wait = max(0.0, self.threshold - self.spent.get(self.dtype, 0.0))
            # numba compiles on the calling thread; a timer thread lets the line appear
            # while the compile still runs, which is when the user needs it.
            self.timer = threading.Timer(wait, self._fire, args=(self.dtype,))
            self.timer.daemon = True
            self.timer.start()

    def on_end(self, ev: event.Event) -> None:
        if not _is_ours(ev.data):
            return
        with self.lock:
            self.depth = max(0, self.depth - 1)
            if self.depth:
                return
            elapsed = time.perf_counter() - self.started
            self.spent[self.dtype] = self.spent.get(self.dtype, 0.0) + elapsed
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            if (self.dtype not in self.printed and not self.muted
                    and self.spent[self.dtype] >= self.threshold):
                self._print(self.dtype)  # the timer lost the race with the end

    def _fire(self, dtype: str | None) -> None:
        with self.lock:
            if self.depth and self.dtype == dtype and dtype not in self.printed and not self.muted:
                self._print(dtype)

    def _print(self, dtype: str | None) -> None:  # called with the lock held
        self.printed.add(dtype)
        try:
            print(message(dtype), file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass  # stderr closed or gone: the notice is a courtesy, never an error


_listener: _Notice | None = None


def install(threshold: float = THRESHOLD_S) -> None:
    """Start listening (idempotent: a second call changes only the threshold)."""
    global _listener
    if _listener is None:
        _listener = _Notice(threshold)
        event.register("numba:compile", _listener)
    _listener.threshold = threshold


def uninstall() -> None:
    """Stop listening."""
    global _listener
    if _listener is not None:
        event.unregister("numba:compile", _listener)
        _listener = None


@contextmanager
def quiet() -> Iterator[None]:
    """Print nothing inside the block (compiles in it still count towards the threshold)."""
    listener = _listener
    if listener is None:
        yield
        return
    with listener.lock:
        listener.muted += 1
    try:
        yield
    finally:
        with listener.lock:
            listener.muted -= 1


@dataclass(frozen=True)
class Compile:
    """One kernel specialization numba compiled (its helpers' compiles included).

    Attributes
    ----------
    kernel : str
        ``module.function`` of the kernel, e.g. ``"scratchnet.kernels.lstm.lstm_step"``.
    signature : str
        The argument types it was compiled for.
    seconds : float
        Wall time of the compile, helpers inlined into it included.
    """

    kernel: str
    signature: str
    seconds: float


class _Recorder(event.Listener):
    def __init__(self, on_start: Callable[[str], None] | None) -> None:
        self.compiles: list[Compile] = []
        self.stack: list[float] = []
        self.callback = on_start

    def on_start(self, ev: event.Event) -> None:
        if not _is_ours(ev.data):
            return
        self.stack.append(time.perf_counter())
        if len(self.stack) == 1 and self.callback is not None:
            self.callback(_name(ev.data))

    def on_end(self, ev: event.Event) -> None:
        if not _is_ours(ev.data) or not self.stack:
            return
        start = self.stack.pop()
        if not self.stack:
            signature = ", ".join(str(a) for a in ev.data.get("args") or ())
            self.compiles.append(Compile(_name(ev.data), signature,
                                         time.perf_counter() - start))


def _name(data: dict) -> str:
    func = data["dispatcher"].py_func
    return f"{func.__module__}.{func.__qualname__}"


@contextmanager
def record(on_start: Callable[[str], None] | None = None) -> Iterator[list[Compile]]:
    """Collect every scratchnet kernel compiled inside the block.

    Parameters
    ----------
    on_start : callable, optional
        Called with the kernel's name when a compile starts (a progress bar's label).

    Yields
    ------
    list of Compile
        Filled as kernels compile, in order; kernels loaded from numba's cache are
        not compiles and do not appear.
    """
    recorder = _Recorder(on_start)
    event.register("numba:compile", recorder)
    try:
        yield recorder.compiles
    finally:
        event.unregister("numba:compile", recorder)
