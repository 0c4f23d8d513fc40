"""Ctrl-C, honoured wherever it lands. The engine turns an interrupt that arrives during a query
into its own error ("Query interrupted"), which a retry or a fallback could swallow; so the signal
is also remembered here, and the build checks it between stages and before the site is swapped in."""

from __future__ import annotations

import signal
import threading

REQUESTED = threading.Event()


def _handler(signum, frame):
    REQUESTED.set()
    raise KeyboardInterrupt


def install() -> None:
    """Remember Ctrl-C (the main thread only; the command line calls this)."""
    REQUESTED.clear()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _handler)


def check() -> None:
    """Raise KeyboardInterrupt if Ctrl-C came, even if whatever it interrupted carried on."""
    if REQUESTED.is_set():
        raise KeyboardInterrupt
