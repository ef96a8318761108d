"""Shared fixtures: paths to the starter notes and to ../shared (skipped cleanly when absent)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTES = ROOT / "notes"
SHARED = ROOT.parent / "shared"
SEED = SHARED / "seeds" / "bagu-notes-part1.txt"
CORPUS = SHARED / "corpora" / "meko1-llm-interview-guide"
CHROMIUM = Path("/usr/bin/chromium")
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def screenshot_helpers() -> ModuleType:
    """scripts/screenshots.py: the browser settings and page helpers the README pictures use."""
    name = "b2a_screenshots"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "screenshots.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def need_seed() -> Path:
    if not SEED.is_file():
        pytest.skip(f"seed notes not available at {SEED} (../shared is absent in this checkout)")
    return SEED


def need_corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not available at {CORPUS} (../shared is absent in this checkout)")
    return CORPUS


@pytest.fixture
def notes_copy(tmp_path: Path) -> Path:
    """A private copy of the starter notes, so tests may edit them."""
    dst = tmp_path / "notes"
    shutil.copytree(NOTES, dst)
    return dst
