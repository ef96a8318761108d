"""How a build puts its outputs in place: all or nothing, one build at a time per folder.

Every output is first written under `OUT/.bagu2anki-tmp/`; only when all of them (and the lock
file, staged beside itself) were written are they moved over the previous ones, the lock file
last. A build that fails, is interrupted or is killed leaves the previous outputs as they were;
what a killed build left in the staging folder goes at the start of the next one. A second build
into the same folder waits for the first (an advisory lock on `OUT/.bagu2anki-build.lock`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

STAGING_NAME = ".bagu2anki-tmp"
LOCK_NAME = ".bagu2anki-build.lock"


@contextlib.contextmanager
def one_build_at_a_time(out: Path, waiting: Callable[[], None]) -> Iterator[None]:
    """Hold the output folder for this build; `waiting()` is called once if another holds it."""
    out.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks here
        yield
        return
    with (out / LOCK_NAME).open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waiting()
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Staging:
    """Paths to write outputs to, moved into place together by `commit()`."""

    def __init__(self, out: Path) -> None:
        self.folder = out / STAGING_NAME
        shutil.rmtree(self.folder, ignore_errors=True)  # a killed build's leftovers
        self.folder.mkdir(parents=True)
        self._moves: list[tuple[Path, Path]] = []

    def path(self, target: Path) -> Path:
        """Where to write `target` for now. Staged in the output folder, or beside the target
        when it lives elsewhere (the lock file): a move never crosses file systems."""
        if target.parent.resolve() == self.folder.parent.resolve():
            staged = self.folder / target.name
        else:
            staged = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        self._moves.append((staged, target))
        return staged

    def folder_path(self, target: Path) -> Path:
        """Where to write the folder `target` (in the output folder) for now: made here, filled
        by the caller, and put in place whole by `commit()`, the previous one removed."""
        staged = self.path(target)
        staged.mkdir()
        return staged

    def commit(self) -> None:
        """Move every written output over its target, in the order they were asked for (a
        staged folder replaces the previous folder whole: the old one is moved aside first).
        A file that says byte for byte what its target says is dropped: the target is not
        rewritten (its time stays, a browser or a watcher sees no change)."""
        for staged, target in self._moves:  # what would refuse the move, before any is made
            if staged.is_dir():
                if target.exists() and not target.is_dir():
                    raise NotADirectoryError(20, "a file is in the way", str(target))
            elif target.is_dir():
                raise IsADirectoryError(21, "a folder is in the way", str(target))
        for staged, target in self._moves:
            if staged.is_dir() and target.is_dir():
                os.replace(target, self.folder / f"{target.name}.old")  # removed by close()
            elif staged.is_file() and _same_bytes(staged, target):
                staged.unlink()
                continue
            if staged.exists():
                os.replace(staged, target)

    def close(self) -> None:
        """Remove whatever was not committed (after a failure), and the staging folder."""
        for staged, _target in self._moves:
            with contextlib.suppress(OSError):
                staged.unlink()
        shutil.rmtree(self.folder, ignore_errors=True)


def _same_bytes(a: Path, b: Path) -> bool:
    try:
        if not b.is_file() or a.stat().st_size != b.stat().st_size:
            return False
        with a.open("rb") as fa, b.open("rb") as fb:
            while True:
                chunk = fa.read(1 << 20)
                if chunk != fb.read(1 << 20):
                    return False
                if not chunk:
                    return True
    except OSError:
        return False


def tell_waiting(out: Path) -> Callable[[], None]:
    def waiting() -> None:
        sys.stderr.write(f"another bagu2anki build is writing to {out}; waiting for it to finish\n")
        sys.stderr.flush()

    return waiting
