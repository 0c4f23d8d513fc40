"""The build's temporary folder: named after the build's process, so that a later build can tell a
killed build's folder from a running one's and remove it."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

PREFIX = "segment-report-"
# what an engine message that names a file in such a folder looks like (see read.source._engine_error)
PATTERN = rf"\S*{PREFIX}\d+-[^\s\"']*"


def prefix() -> str:
    """The start of this process's temporary folder names (tempfile adds a random end)."""
    return f"{PREFIX}{os.getpid()}-"


def clear_stale() -> tuple[str, ...]:
    """Remove the temporary folders of builds that were killed (their process is gone): a note if any."""
    gone = []
    for folder in Path(tempfile.gettempdir()).glob(f"{PREFIX}*-*"):
        pid = folder.name[len(PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or not folder.is_dir() or folder.stat().st_uid != os.getuid():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # still running
        except ProcessLookupError:
            pass
        except OSError:
            continue  # someone else's process
        shutil.rmtree(folder, ignore_errors=True)
        gone.append(folder.name)
    return (f"removed the temporary folders of {len(gone)} interrupted build{'s' * (len(gone) != 1)} "
            f"from {tempfile.gettempdir()}",) if gone else ()
