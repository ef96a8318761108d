"""Outputs under bad luck: a lock file that cannot be written, a folder in the way, two builds
into one folder, a build killed half-way. The previous outputs stay as they were, exit 1 says
why in one line, nothing is left behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from click.testing import CliRunner
from conftest import NOTES

from bagu2anki.cli import main
from bagu2anki.write.staging import STAGING_NAME


def _outputs(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file() and p.suffix in (".apkg", ".html", ".md")}


def _leftovers(*folders: Path) -> list[str]:
    found: list[str] = []
    for folder in folders:
        for p in folder.rglob("*"):
            if p.name.endswith((".part", ".tmp")) or p.name == STAGING_NAME or p.name.startswith("b2a-deck-"):
                found.append(str(p))
    return found


def _edit(notes: Path) -> None:
    f = notes / "基础" / "attention.md"
    f.write_text(f.read_text(encoding="utf-8") + "\n\n### 新加的一题：为什么要 warmup？\n\n稳定早期训练。\n", encoding="utf-8")


def test_a_lock_file_that_cannot_be_written_fails_the_build_and_keeps_every_output(notes_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    lock = tmp_path / "l.lock"
    first = CliRunner().invoke(main, ["build", str(notes_copy), "-o", str(out), "--lock", str(lock)])
    assert first.exit_code == 0, first.output
    before, lock_before = _outputs(out), lock.read_bytes()
    _edit(notes_copy)
    (tmp_path / "file").write_text("a file, not a folder", encoding="utf-8")
    for bad_lock in (tmp_path / "file" / "l.lock", lock):
        if bad_lock == lock:  # a folder where the lock file's staging copy would go
            (tmp_path / f".l.lock.{os.getpid()}.tmp").mkdir()
        res = CliRunner().invoke(main, ["build", str(notes_copy), "-o", str(out), "--lock", str(bad_lock)])
        assert res.exit_code == 1, res.output
        errors = [s for s in res.output.splitlines() if s.startswith("Error:")]
        assert len(errors) == 1 and "cannot write" in errors[0] and bad_lock.name in errors[0], res.output
        assert _outputs(out) == before  # the deck still matches the lock file it was built with
        assert lock.read_bytes() == lock_before
    shutil.rmtree(tmp_path / f".l.lock.{os.getpid()}.tmp")
    assert _leftovers(out, tmp_path) == []


def test_a_folder_in_the_way_replaces_nothing(notes_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    lock = tmp_path / "l.lock"
    assert CliRunner().invoke(main, ["build", str(notes_copy), "-o", str(out), "--lock", str(lock)]).exit_code == 0
    before, lock_before = _outputs(out), lock.read_bytes()
    (out / "report.md").unlink()
    (out / "report.md").mkdir()  # the last output to be replaced before the lock
    _edit(notes_copy)
    res = CliRunner().invoke(main, ["build", str(notes_copy), "-o", str(out), "--lock", str(lock)])
    assert res.exit_code == 1 and "report.md" in res.output, res.output
    del before["report.md"]
    assert _outputs(out) == before and lock.read_bytes() == lock_before
    assert _leftovers(out) == []


def test_leftovers_of_a_killed_build_are_cleared(notes_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / STAGING_NAME / "b2a-deck-x").mkdir(parents=True)
    (out / STAGING_NAME / "notes.apkg.part").write_bytes(b"half")
    res = CliRunner().invoke(main, ["build", str(notes_copy), "-o", str(out), "--lock", str(tmp_path / "l.lock")])
    assert res.exit_code == 0, res.output
    assert _leftovers(out) == []


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "bagu2anki", *args]


def test_two_builds_into_one_folder_never_corrupt_the_deck(notes_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    lock = tmp_path / "l.lock"
    procs = [
        subprocess.Popen(_cli("build", str(notes_copy), "-o", str(out), "--lock", str(lock)),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], results
    with zipfile.ZipFile(out / "notes.apkg") as z:
        assert z.testzip() is None and "collection.anki2" in z.namelist()
    assert _leftovers(out) == []


def test_a_terminated_build_leaves_the_previous_outputs(notes_copy: Path, tmp_path: Path) -> None:
    """`kill` in the middle of writing: the old deck stays whole and nothing is left behind."""
    for k in range(12):  # enough notes that writing takes a moment
        shutil.copytree(NOTES, notes_copy / f"copy{k}")
    out = tmp_path / "out"
    lock = tmp_path / "l.lock"
    assert subprocess.run(_cli("build", str(notes_copy), "-o", str(out), "--lock", str(lock), "--no-cache"),
                          capture_output=True, timeout=300).returncode == 0
    before, lock_before = _outputs(out), lock.read_bytes()
    _edit(notes_copy)
    proc = subprocess.Popen(_cli("build", str(notes_copy), "-o", str(out), "--lock", str(lock), "--no-cache"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out / STAGING_NAME).exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    caught = proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    if caught:
        assert proc.returncode != 0
        assert _outputs(out) == before and lock.read_bytes() == lock_before
    assert _leftovers(out, tmp_path) == []


def test_an_output_folder_inside_the_notes_is_never_read_as_notes(notes_copy: Path, tmp_path: Path) -> None:
    out = notes_copy / "out"
    lock = tmp_path / "l.lock"
    first = CliRunner().invoke(main, ["build", str(notes_copy), "-o", str(out), "--lock", str(lock)])
    assert first.exit_code == 0, first.output
    (out / "stray.md").write_text("## 输出目录里的题？\n\n不该被读到。\n", encoding="utf-8")
    second = CliRunner().invoke(main, ["build", str(notes_copy), "-o", str(out), "--lock", str(lock)])
    assert second.exit_code == 0, second.output
    assert first.output.splitlines()[0] == second.output.splitlines()[0]  # same questions, same files
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "out/report.md" not in report and "输出目录里的题" not in report


def test_jobs_are_capped_at_the_cores() -> None:
    from bagu2anki.config import Config

    cores = os.cpu_count() or 1
    assert Config(jobs=500).workers() == cores
    assert Config(jobs=1).workers() == 1
    assert 1 <= Config().workers() <= min(cores, 8)
