"""Where the site goes: the output folder is checked before the analysis starts, one build at a
time writes into it, the new site is swapped in whole, and nothing is left behind.

Next to the output folder `site` a build keeps, for its own duration only:
  site.lock         held (flock) while a build writes to `site`; a second build is refused
  site.tmp-<pid>    the new site being written
  site.old-<pid>    the previous site, between the two renames of the swap
A build killed outright (kill -9, power loss) can leave these behind; the next build into the
same folder removes them (or, if it was killed mid-swap, puts the previous site back) and says so.

A folder is replaced only if this tool wrote it: it holds MARKER, which lists every file the build
wrote. Files a user added to such a site (a CNAME for GitHub Pages, say) are carried over into the
new one. Any other folder that is not empty is refused, unless it holds only this project's own
committed site/README.md.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
from pathlib import Path
from typing import Callable, Iterator

from analysis import interrupt
from analysis.errors import DataError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; builds into one folder are not guarded there
    fcntl = None

PROJECT = Path(__file__).resolve().parent.parent
COMMITTED_README = PROJECT / "site" / "README.md"
MARKER = ".segment-report"
MARKER_HEAD = "This folder is a generated segment-report site; the next build replaces it. Files it wrote:\n"
MARGIN_BYTES = 20 * 2**20  # free space wanted beyond a second copy of the previous site
FIX_OUTPUT = "choose a new or empty folder for --output"


def marker_text(files: list[str]) -> str:
    """The marker's text: a line on what the folder is, then every file the build wrote."""
    return MARKER_HEAD + "".join(f"{f}\n" for f in sorted({*files, MARKER}))


def _written(site: Path) -> set[str] | None:
    """The files the marker of `site` says the build wrote (None: a marker from before lists)."""
    lines = (site / MARKER).read_text(encoding="utf-8", errors="replace").splitlines()
    return set(lines[1:]) if lines and lines[0] + "\n" == MARKER_HEAD else None


def _files(folder: Path) -> list[str]:
    """Every file (or link) under `folder`, as a path relative to it with '/'."""
    out = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        base = Path(root)
        out += [(base / n).relative_to(folder).as_posix() for n in sorted(names)]
        out += [(base / d).relative_to(folder).as_posix() for d in dirs if (base / d).is_symlink()]
    return out


def _size(folder: Path) -> int:
    total = 0
    for root, _, names in os.walk(folder):
        for n in names:
            with contextlib.suppress(OSError):
                total += (Path(root) / n).lstat().st_size
    return total


def os_error(exc: OSError, path: Path | str, doing: str, output: bool = True) -> DataError:
    """An operating-system error while `doing` something at `path`, as one message with a fix
    (`output`: the path is the output's, so the fix may be another --output)."""
    elsewhere = ", or choose another --output" if output else ""
    fixes = {
        errno.ENOSPC: ("the disk is full", f"free some space there{elsewhere}"),
        errno.EDQUOT: ("the disk quota is used up", f"free some space there{elsewhere}"),
        errno.EROFS: ("the file system is read-only", "choose a writable folder for --output" if output
                      else "make it writable"),
        errno.EACCES: ("permission denied", f"check the permissions of that file or folder{elsewhere}"),
        errno.EPERM: ("operation not permitted", f"check the permissions of that file or folder{elsewhere}"),
        errno.ENOTDIR: ("a part of the path is a file, not a folder", "check the path"),
        errno.ENAMETOOLONG: ("the path is too long", "choose a shorter path"),
        errno.ENOMEM: ("out of memory", "free memory, or build on a smaller input"),
    }
    what, fix = fixes.get(exc.errno, (exc.strerror or str(exc), "check the path and try again"))
    return DataError(f"cannot {doing}: {what}", file=str(path), fix=fix)


class Output:
    """A checked output folder, locked for this build (use `prepared`)."""

    def __init__(self, path: Path):
        self.path = path
        self.notes: list[str] = []
        self._lock = None

    @property
    def parent(self) -> Path:
        return self.path.parent

    def _sibling(self, suffix: str) -> Path:
        return self.parent / f"{self.path.name}{suffix}"

    # -- before the analysis --------------------------------------------------------------------
    def check(self) -> None:
        """Refuse now, before any work, what would fail or lose a file later."""
        out = self.path
        if out.parent == out:
            raise DataError("refusing to write a site to the file-system root", file=str(out),
                            fix="choose a folder for --output")
        for up in [out, *out.parents]:
            if up.exists() and not up.is_dir():
                what = "the output path exists and is not a folder" if up == out else \
                    f"the output would be inside '{up}', which is a file"
                raise DataError(what, file=str(out), fix="choose a folder name for --output")
            if up.exists():
                break
        try:
            self.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise os_error(exc, self.parent, "create the output's folder") from None
        self._take_lock()
        self._clear_leftovers()
        self.check_replaceable()
        self._check_space()

    def _take_lock(self) -> None:
        path = self._sibling(".lock")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise os_error(exc, self.parent, "write next to the output folder") from None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                other = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise DataError(f"another build (process {other}) is writing this site", file=str(self.path),
                                fix="wait for it to finish, or choose another --output") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._lock = (fd, path)

    def _clear_leftovers(self) -> None:
        """Holding the lock, any temporary sibling is a killed build's: remove it, or put back the
        previous site if the build was killed between the two renames of its swap."""
        ours = re.compile(rf"{re.escape(self.path.name)}\.(tmp|old)-\d+")
        # a build's own folders hold the marker from their first moment; a user's site.old-2023 does not
        left = sorted(p for p in self.parent.iterdir() if ours.fullmatch(p.name) and p.is_dir()
                      and not p.is_symlink() and (p / MARKER).is_file())
        olds = [p for p in left if ".old-" in p.name]
        if olds and not self.path.exists() and not self.path.is_symlink():
            os.rename(olds[0], self.path)
            left.remove(olds[0])
            self.notes.append(f"put back the previous site from an interrupted build ({olds[0].name})")
        for p in left:
            shutil.rmtree(p, ignore_errors=True)
        if left:
            self.notes.append(f"removed what an interrupted build left beside the output: "
                              f"{', '.join(p.name for p in left)}")

    def check_replaceable(self) -> None:
        """Raise DataError unless the output is missing, empty, a site this tool wrote, or holds only
        this project's own site/README.md."""
        out = self.path
        if not out.exists():
            return
        if not out.is_dir():
            raise DataError("the output path exists and is not a folder", file=str(out),
                            fix="choose a folder name for --output")
        entries = sorted(os.listdir(out))
        if not entries or MARKER in entries:
            return
        if entries == ["README.md"] and COMMITTED_README.is_file() and \
                (out / "README.md").read_bytes() == COMMITTED_README.read_bytes():
            return
        raise DataError(f"refusing to replace a folder that is not a report site (no {MARKER} marker)",
                        file=str(out), example=", ".join(entries[:5]),
                        fix="choose a new or empty folder for --output, or remove this one yourself")

    def _check_space(self) -> None:
        previous = _size(self.path) if self.path.is_dir() else 0
        need = previous + MARGIN_BYTES
        free = shutil.disk_usage(self.parent).free
        if free < need:
            raise DataError(f"not enough free space: {free / 2**20:,.0f} MB free, about {need / 2**20:,.0f} MB "
                            "needed (the new site is written beside the previous one before replacing it)",
                            file=str(self.parent), fix="free some space there, or choose another --output")

    # -- after the analysis ---------------------------------------------------------------------
    def extras(self) -> list[str]:
        """Files a user added to the previous site: carried over into the new one."""
        if not (self.path / MARKER).is_file():
            return []
        written = _written(self.path)
        mine = written if written is not None else set(_files(self.path)) - {".gitkeep", "CNAME"}
        return [f for f in _files(self.path) if f not in mine]

    def write(self, write_all: Callable[[Path], None]) -> Path:
        """write_all(folder) writes every file of the new site into a new folder; then the user's
        extra files are carried over, the marker listing the files written is added, and the
        folder is swapped in for the previous site."""
        out = self.path
        tmp = self._sibling(f".tmp-{os.getpid()}")
        if tmp.exists():
            shutil.rmtree(tmp)
        try:
            tmp.mkdir()
            (tmp / MARKER).write_text(MARKER_HEAD, encoding="utf-8")  # ours from the start (see _clear_leftovers)
            write_all(tmp)
            made = _files(tmp)
            (tmp / MARKER).write_text(marker_text(made), encoding="utf-8")
            carried = []
            for rel in self.extras():
                if (tmp / rel).exists() or (tmp / rel).is_symlink():
                    continue  # the new site has a file of that name: it wins (the user's was listed)
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(out / rel, tmp / rel, follow_symlinks=False)
                carried.append(rel)
            if carried:
                self.notes.append(f"kept {len(carried)} file{'s' * (len(carried) != 1)} you added to the "
                                  f"previous site: {', '.join(carried[:5])}{' ...' if len(carried) > 5 else ''}")
            self.check_replaceable()  # still safe to replace (nothing changed it meanwhile)
            interrupt.check()  # Ctrl-C while writing: the previous site stays
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
                raise os_error(exc, out, "write the site") from None
            raise
        old = self._sibling(f".old-{os.getpid()}")
        had_old = out.exists()
        try:
            if had_old:
                os.rename(out, old)
            try:
                os.rename(tmp, out)
            except BaseException:
                if had_old:
                    os.rename(old, out)
                raise
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise os_error(exc, out, "replace the previous site") from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if had_old:
            shutil.rmtree(old, ignore_errors=True)
        return out

    def close(self) -> None:
        if self._lock is not None:
            fd, path = self._lock
            self._lock = None
            with contextlib.suppress(OSError):
                path.unlink()
            os.close(fd)


def resolve(output_dir) -> Path:
    """The absolute output path; a symbolic link is followed to the folder it points at, so that the
    swap replaces that folder and keeps the link."""
    out = Path(os.path.abspath(output_dir))
    if out.is_symlink():
        out = Path(os.path.realpath(out))
    return out


@contextlib.contextmanager
def prepared(output_dir) -> Iterator[Output]:
    """The output folder checked and locked for one build; the lock goes when the build ends."""
    out = Output(resolve(output_dir))
    try:
        out.check()
        yield out
    finally:
        out.close()
