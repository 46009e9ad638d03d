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
says nothing about other libraries' functions. ``import scratchnet`` does not load
numba (the reference path needs none), so it only arranges, with
:func:`install_when_numba_loads`, for the listener to be installed the moment numba
is first imported, i.e. when the first kernel module loads. This module itself imports
nothing heavy: ``python -X importtime`` gives it about 2 ms (no numba, no dataclasses).
:func:`uninstall` removes the listener and :func:`quiet` silences it for a block (the
``warmup`` command shows a progress bar instead). :func:`record` lists what compiled
and how long each took, for ``warmup`` and ``benchmarks/bench_startup.py``.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import namedtuple
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["THRESHOLD_S", "Compile", "install", "install_when_numba_loads", "message", "quiet",
           "record", "uninstall"]

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


class _Listener:
    """A numba event listener (registered as a virtual subclass of numba's Listener, so
    that defining it does not import numba)."""

    def notify(self, ev) -> None:
        if ev.is_start:
            self.on_start(ev)
        elif ev.is_end:
            self.on_end(ev)


def _events():
    from numba.core import event

    event.Listener.register(_Listener)  # idempotent
    return event


class _Notice(_Listener):
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

    def on_start(self, ev) -> None:
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

    def on_end(self, ev) -> None:
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
        _events().register("numba:compile", _listener)
    _listener.threshold = threshold


def uninstall() -> None:
    """Stop listening."""
    global _listener
    if _listener is not None:
        _events().unregister("numba:compile", _listener)
        _listener = None


class _AfterNumbaImport:
    """A meta path finder that installs the listener right after numba's first import,
    then steps aside (it finds nothing itself: the other finders load numba)."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "numba":
            return None
        import importlib.util

        _remove_hook()
        spec = importlib.util.find_spec(fullname)  # the other finders, as if we were absent
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_install(module):
            exec_module(module)
            install()

        spec.loader.exec_module = exec_then_install
        return spec


_hook: _AfterNumbaImport | None = None


def _remove_hook() -> None:
    global _hook
    if _hook is not None and _hook in sys.meta_path:
        sys.meta_path.remove(_hook)
    _hook = None


def install_when_numba_loads() -> None:
    """Install the listener now if numba is loaded, else as soon as something imports it."""
    global _hook
    if "numba" in sys.modules:
        install()
    elif _hook is None:
        _hook = _AfterNumbaImport()
        sys.meta_path.insert(0, _hook)


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


class Compile(namedtuple("Compile", "kernel signature seconds")):
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

    # A namedtuple rather than a dataclass: dataclasses costs ~9 ms to import, and this
    # module is imported by ``import scratchnet``.
    __slots__ = ()


class _Recorder(_Listener):
    def __init__(self, on_start: Callable[[str], None] | None) -> None:
        self.compiles: list[Compile] = []
        self.stack: list[float] = []
        self.callback = on_start

    def on_start(self, ev) -> None:
        if not _is_ours(ev.data):
            return
        self.stack.append(time.perf_counter())
        if len(self.stack) == 1 and self.callback is not None:
            self.callback(_name(ev.data))

    def on_end(self, ev) -> None:
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
    events = _events()
    events.register("numba:compile", recorder)
    try:
        yield recorder.compiles
    finally:
        events.unregister("numba:compile", recorder)
