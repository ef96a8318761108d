"""The forked writer the build uses for the concept map: work done, errors carried back."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from bagu2anki.background import Background, BackgroundError


def _write_pid(path: Path) -> None:
    path.write_text(str(os.getpid()))


def _fail_value() -> None:
    raise ValueError("graph.html: disk full")


class _Odd(Exception):
    def __init__(self, a: int, b: int) -> None:  # pickle cannot rebuild it from args alone
        super().__init__(f"{a}/{b}")
        self.lock = threading.Lock()


def _fail_odd() -> None:
    raise _Odd(1, 2)


def test_work_runs_in_a_child_where_fork_is_safe(tmp_path: Path) -> None:
    out = tmp_path / "pid"
    job = Background(_write_pid, out)
    job.wait()
    pid = int(out.read_text())
    if sys.platform == "linux":
        assert pid != os.getpid()
    else:
        assert pid == os.getpid()


def test_an_error_in_the_child_is_raised_by_wait() -> None:
    job = Background(_fail_value)
    with pytest.raises(ValueError, match="disk full"):
        job.wait()


def test_an_error_that_cannot_travel_arrives_as_its_traceback() -> None:
    job = Background(_fail_odd)
    with pytest.raises((BackgroundError, _Odd), match="1/2"):
        job.wait()


def test_with_another_thread_alive_the_work_runs_here(tmp_path: Path) -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        out = tmp_path / "pid"
        job = Background(_write_pid, out)
        assert out.exists()  # done before wait(): it ran in this process
        job.wait()
        assert int(out.read_text()) == os.getpid()
        with pytest.raises(ValueError, match="disk full"):
            Background(_fail_value).wait()
    finally:
        stop.set()
        other.join()
