"""The real Anki desktop with the real AnkiConnect add-on, headless, for the sync tests.

`../shared/tools/anki_desktop.sh` (beside this repository, not in it: the add-on is GPL-3 and
stays in ../shared/vendor) starts Anki on a throwaway base folder and a free port. The fixture
skips, saying why, where the tool or its Anki venv is missing (`scripts/test.sh` runs
`anki_desktop.sh setup` first when the tool is there).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import SHARED

TOOL = SHARED / "tools" / "anki_desktop.sh"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class AnkiDesktop:
    """A running Anki: its AnkiConnect URL and base folder."""

    url: str
    base: Path

    def call(self, action: str, **params: Any) -> Any:
        body = json.dumps({"action": action, "version": 6, "params": params}).encode()
        with urllib.request.urlopen(urllib.request.Request(self.url, body), timeout=120) as r:
            reply = json.loads(r.read())
        if reply["error"] is not None:
            raise RuntimeError(f"AnkiConnect {action}: {reply['error']}")
        return reply["result"]

    def forget_everything(self) -> None:
        """Delete every note and deck, so the next test starts from an empty collection."""
        nids = self.call("findNotes", query="deck:*")
        if nids:
            self.call("deleteNotes", notes=nids)
        decks = [d for d in self.call("deckNames") if d != "Default"]
        if decks:
            self.call("deleteDecks", decks=decks, cardsToo=True)


def _tool(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(TOOL), *args], env=env, capture_output=True, text=True, timeout=timeout)


def start_anki(base: Path) -> Iterator[AnkiDesktop]:
    """Start Anki on `base` (skip when it cannot be had here), yield it, stop it."""
    if not TOOL.is_file():
        pytest.skip(f"real-Anki tests need {TOOL} (../shared is absent in this checkout)")
    doctor = _tool("doctor", timeout=120)
    if doctor.returncode != 0:
        why = doctor.stderr.strip().splitlines()
        pytest.skip(f"Anki desktop not set up ({why[0] if why else 'doctor failed'}); "
                    f"run: bash {TOOL} setup")
    port = free_port()
    env = {**os.environ, "ANKI_CONNECT_PORT": str(port)}
    started = _tool("start", str(base), env=env)
    if started.returncode != 0:
        pytest.fail(f"anki_desktop.sh start failed: {started.stderr.strip()}")
    words = dict(w.split("=", 1) for w in started.stdout.split() if "=" in w)
    try:
        yield AnkiDesktop(words.get("url", f"http://127.0.0.1:{port}"), base)
    finally:
        stopped = _tool("stop", str(base), env=env, timeout=120)
        assert stopped.returncode == 0, stopped.stderr


@pytest.fixture(scope="session")
def anki_desktop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnkiDesktop]:
    yield from start_anki(tmp_path_factory.mktemp("anki-desktop"))
