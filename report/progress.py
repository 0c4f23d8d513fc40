"""Console progress for a build: a bar over the stages that shows the running stage and its time.

The bar goes to stderr and only when stderr is a terminal (tqdm's own check), so logs and pipes
get the plain per-stage lines only. A background refresh keeps the elapsed time moving while one
long stage runs, so a stage that takes many seconds never looks stuck.
"""

from __future__ import annotations

import sys
import threading
from typing import Callable, Sequence

from tqdm import tqdm

REFRESH_SECONDS = 0.25


class StageBar:
    """`start(stage)` when a stage begins; call with (stage, seconds) when it ends; `close()` at the end."""

    def __init__(self, stages: Sequence[str], say: Callable[[str], None], enabled: bool | None = None):
        self._say = say
        self._bar = tqdm(total=len(stages), desc="starting", unit="stage", file=sys.stderr, leave=False,
                         disable=None if enabled is None else not enabled, dynamic_ncols=True,
                         bar_format="{desc:<22} {bar} {n_fmt}/{total_fmt} stages [{elapsed}]")
        self._stop = threading.Event()
        self._ticker = None
        if not self._bar.disable:
            self._ticker = threading.Thread(target=self._tick, name="progress-refresh", daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(REFRESH_SECONDS):
            self._bar.refresh()

    def start(self, stage: str) -> None:
        self._bar.set_description_str(f"{stage} ...", refresh=True)

    def __call__(self, stage: str, seconds: float) -> None:
        if self._bar.total is not None and self._bar.n >= self._bar.total:
            self._bar.total += 1  # a stage beyond the announced ones (the site) still counts
        self._bar.update(1)
        line = f"  {stage:<10} {seconds:6.2f} s"
        if self._bar.disable:
            self._say(line)
        else:
            self._bar.write(line, file=sys.stderr)

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        self._bar.close()
