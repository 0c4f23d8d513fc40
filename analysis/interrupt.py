"""Ctrl-C, honoured wherever it lands. The engine turns an interrupt that arrives during a query
into its own error ("Query interrupted"), which a retry or a fallback could swallow; so the signal
is also remembered here, and the build checks it between stages and before the site is swapped in.
A Ctrl-C that lands in a weakref callback or a finaliser cannot propagate: Python would print it as
"Exception ignored in ..." with a traceback and carry on; it is remembered, so that note is dropped."""

from __future__ import annotations

import signal
import sys
import threading

REQUESTED = threading.Event()


def _handler(signum, frame):
    REQUESTED.set()
    raise KeyboardInterrupt


def _unraisable(info) -> None:
    if isinstance(info.exc_value, KeyboardInterrupt) and REQUESTED.is_set():
        return  # remembered: check() raises it where it can propagate
    sys.__unraisablehook__(info)


def install() -> None:
    """Remember Ctrl-C (the main thread only; the command line calls this)."""
    REQUESTED.clear()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _handler)
        sys.unraisablehook = _unraisable


def check() -> None:
    """Raise KeyboardInterrupt if Ctrl-C came, even if whatever it interrupted carried on."""
    if REQUESTED.is_set():
        raise KeyboardInterrupt
