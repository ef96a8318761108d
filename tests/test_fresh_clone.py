"""What a user of a fresh clone meets first: the shipped lock is current, a build with nothing to
read says so, annotations land on the repository's files, messages count and cut properly."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import NOTES, ROOT

from bagu2anki.cli import main
from bagu2anki.diagnostics import clip, counted


def test_the_shipped_lock_is_current(tmp_path: Path) -> None:
    """README's first command builds notes/ beside bagu2anki.lock: it must leave the lock as
    committed, or `git status` is dirty right after installing."""
    shutil.copytree(NOTES, tmp_path / "notes")
    shutil.copy(ROOT / "bagu2anki.lock", tmp_path / "bagu2anki.lock")
    res = CliRunner().invoke(main, ["build", str(tmp_path / "notes"), "-o", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "bagu2anki.lock").read_bytes() == (ROOT / "bagu2anki.lock").read_bytes(), (
        "building notes/ changed bagu2anki.lock: run `bagu2anki build` and commit the lock"
    )


@pytest.mark.parametrize("command", [["build"], ["check"], ["export", "atoms"], ["export", "graph"]])
def test_nothing_to_read_is_an_error_that_says_what_was_looked_for(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "slides").mkdir()
    (tmp_path / "slides" / "deck.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4")
    for target, skipped in (("empty", None), ("slides", "deck.pdf"), ("a.pdf", "a.pdf")):
        extra = ["-o", "out"] if command == ["build"] else []
        res = CliRunner().invoke(main, [*command, target, *extra])
        assert res.exit_code == 1, res.output
        lines = [s for s in res.output.splitlines() if s.startswith("Error:")]
        assert len(lines) == 1, res.output
        assert target in lines[0] and ".md" in lines[0] and ".txt" in lines[0]
        if skipped:
            assert f"skipped {skipped}" in lines[0]
        assert not (tmp_path / "out").exists()  # no empty deck written


def test_github_annotations_name_files_from_the_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped workflow runs `bagu2anki check --strict --format github` at the repository
    root on notes/: annotations must say notes/…, the path GitHub knows."""
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "deck.yml").read_text(encoding="utf-8"))
    steps = [s.get("run", "") for job in workflow["jobs"].values() for s in job["steps"]]
    check = next(s for s in steps if "bagu2anki check" in s)
    assert "--format github" in check
    args = check.split()[2:]  # the workflow's own arguments, run here as it runs them
    assert not [a for a in args if not a.startswith("-") and a not in ("github",)], "workflow names a notes path"
    monkeypatch.chdir(tmp_path)
    sub = tmp_path / "notes" / "agent"
    sub.mkdir(parents=True)
    (sub / "agent.md").write_text("# Agent\n\n## 什么是 ReAct？\n\n$x\n\n## 还没写？\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["check", *args])
    assert res.exit_code == 1, res.output
    annotations = [s for s in res.output.splitlines() if s.startswith("::")]
    assert annotations and all("file=notes/agent/agent.md,line=" in s for s in annotations), res.output
    # the same notes named from inside their folder: paths from there
    monkeypatch.chdir(tmp_path / "notes")
    res = CliRunner().invoke(main, ["check", ".", "--format", "github"])
    assert all("file=agent/agent.md," in s for s in res.output.splitlines() if s.startswith("::")), res.output


def test_counts_and_cuts_read_naturally(tmp_path: Path) -> None:
    assert counted(1, "file") == "1 file" and counted(2, "file") == "2 files" and counted(0, "warning") == "0 warnings"
    assert clip("短问题", 40) == "短问题"
    long = "为什么" * 30
    assert clip(long, 40).endswith("…") and len(clip(long, 40)) == 40
    notes = tmp_path / "n"
    notes.mkdir()
    (notes / "a.md").write_text("# A\n\n## " + long + "？\n\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["build", str(notes), "-o", str(tmp_path / "out")])
    assert "1 question from 1 file" in res.output and "1 warning" in res.output and "1 warnings" not in res.output
    res = CliRunner().invoke(main, ["check", str(notes)])
    assert "…" in res.output and "report's to-do" not in res.output
    assert re.search(r"--include-unanswered", res.output)


def test_deprecations_from_our_code_fail_the_tests() -> None:
    """pytest turns a DeprecationWarning raised from bagu2anki into an error (pyproject), so a
    newer click or markdown-it-py deprecating what we call shows up in the drift job first."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert "error::DeprecationWarning:bagu2anki" in text
    import warnings

    with pytest.raises(DeprecationWarning), warnings.catch_warnings():
        warnings.filterwarnings("error", category=DeprecationWarning, module=r"bagu2anki(\..*)?$")
        exec(compile("import warnings; warnings.warn('old', DeprecationWarning)", "x", "exec"),
             {"__name__": "bagu2anki.fake"})


def test_the_shipped_code_colours_match_the_pinned_pygments() -> None:
    """templates/code.css is generated once from Pygments and shipped, so the note type does not
    change with the user's Pygments release. Regenerate after a deliberate Pygments upgrade:
    `python -m bagu2anki.code > templates/code.css` (this test then fails in the drift job first)."""
    from bagu2anki.code import code_css, generate_code_css

    assert code_css() == generate_code_css()
    assert ".nightMode .highlight .k " in code_css()
