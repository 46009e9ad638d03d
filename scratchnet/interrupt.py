"""Ctrl-C during training: always a clean KeyboardInterrupt, at a batch boundary.

Python runs a signal handler between bytecodes of the main thread. When that happens
while a numba kernel returns (in the main thread, or while the main thread waits for the
shard threads), the KeyboardInterrupt raised by the default handler can land in the middle
of numba's dispatcher, which then reports ``SystemError: CPUDispatcher(...) returned a
result with an exception set``. So while ``fit``, ``evaluate`` or ``predict`` run, a
first Ctrl-C only records itself, and the loop raises KeyboardInterrupt after the batch in
progress (:func:`deferred_sigint`). A second Ctrl-C raises at once, for a batch that takes
too long; a SystemError it may cause is turned back into KeyboardInterrupt.

This replaces the SIGINT handler only when it is Python's default, only in the main thread,
and only for the duration of the call: a program's own handler is left alone.
"""

from __future__ import annotations

import contextlib
import signal
import threading

_state = {"depth": 0, "pending": False}


def _handler(signum, frame):
    if _state["pending"]:
        raise KeyboardInterrupt  # the second Ctrl-C: the user insists
    _state["pending"] = True


def check() -> None:
    """Raise KeyboardInterrupt if a Ctrl-C arrived since the loop began."""
    if _state["pending"]:
        _state["pending"] = False
        raise KeyboardInterrupt


@contextlib.contextmanager
def deferred_sigint():
    """Within the block, Ctrl-C raises only where :func:`check` is called (or at its end)."""
    if _state["depth"]:  # nested (validation inside fit): the outer block handles it
        _state["depth"] += 1
        try:
            yield
        finally:
            _state["depth"] -= 1
        return
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    _state["pending"] = False
    previous = signal.signal(signal.SIGINT, _handler)
    _state["depth"] = 1
    try:
        yield
    except SystemError as err:
        if _state["pending"]:
            raise KeyboardInterrupt from err
        raise
    finally:
        _state["depth"] = 0
        signal.signal(signal.SIGINT, previous)
    check()
