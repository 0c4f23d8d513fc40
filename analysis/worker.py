"""Driver work that runs in a second process while the build goes on.

The customer-level models are NumPy and SciPy on modest arrays: Python holds the GIL through most
of it, so a thread gains nothing (measured: the value models beside the clustering took as long as
one after the other). A fresh interpreter (spawn: safe while the engine's threads run) computes
`fn(*args)` on another core and sends the result back through a pipe; `result()` waits for it.

Starting an interpreter and importing SciPy costs about a second of the other core, so a caller
uses Worker only for work larger than that: from MIN_CUSTOMERS customers. If the process cannot be
started or dies, the work runs in this process instead: a worker only ever makes a build faster.
The child ignores Ctrl-C (the build's own handling decides) and is a daemon: it ends with the build.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
import weakref

MIN_CUSTOMERS = 5_000  # the customer-level work worth a second process starts at about this many customers
_RUNNING: weakref.WeakSet = weakref.WeakSet()  # workers whose result has not been taken


def close_all() -> None:
    """Stop every worker still running: the build's end (it exits without the interpreter's
    teardown, which would stop daemon processes), or its failure or interruption."""
    for worker in list(_RUNNING):
        worker.close()


def _child(conn) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        fn, args = conn.recv()
    except (EOFError, OSError):  # the build ended before it sent the work
        return
    try:
        out = (True, fn(*args))
    except BaseException as exc:  # noqa: BLE001 - sent back and raised in the build's process
        out = (False, exc)
    try:
        try:
            conn.send(out)
        except OSError:  # the build is gone (killed): nobody to answer
            return
        except Exception as exc:  # noqa: BLE001 - a result that cannot be pickled: the build computes it itself
            conn.send((None, repr(exc)))
    except OSError:
        return
    finally:
        conn.close()


class Worker:
    """fn(*args) in a spawned process, started now; result() returns it (or raises its error).
    The work is sent from a thread of this process: the child reads it only once its interpreter
    is up, and the caller need not wait for that."""

    def __init__(self, fn, *args):
        self._fn, self._args = fn, args
        self._process = self._conn = None
        try:
            context = multiprocessing.get_context("spawn")
            self._conn, theirs = context.Pipe()
            self._process = context.Process(target=_child, args=(theirs,), daemon=True, name="segment-report-worker")
            self._process.start()
            theirs.close()
            _RUNNING.add(self)
        except Exception:  # noqa: BLE001 - no second process here (a sandbox, a frozen app): run inline later
            self._process = None
            return
        self._sender = threading.Thread(target=self._send, daemon=True, name="segment-report-worker-send")
        self._sender.start()

    def _send(self) -> None:
        try:
            self._conn.send((self._fn, self._args))
        except (OSError, ValueError):  # the process is gone: result() computes it here
            pass

    def result(self):
        ok, value = None, None
        if self._process is not None:
            try:
                self._sender.join()
                ok, value = self._conn.recv()
            except (EOFError, OSError):  # the process died: compute here
                ok = None
            finally:
                self.close()
        if ok is None:
            return self._fn(*self._args)
        if not ok:
            raise value
        return value

    def close(self) -> None:
        """Stop the process if it still runs (a build that fails or is interrupted first)."""
        if self._process is not None:
            if self._process.is_alive():
                self._process.terminate()
            self._process.join()
            self._conn.close()
            self._process = None
            _RUNNING.discard(self)
