"""What in an HTML fragment would run in Anki's card view: script-like elements, `on…` handlers,
script URLs. Shared by the tests that feed hostile notes through the build."""

from __future__ import annotations

import re
from html.parser import HTMLParser

ACTIVE_TAGS = frozenset({"script", "iframe", "object", "embed", "svg", "style", "link", "meta", "base", "form", "textarea"})


class _Active(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ACTIVE_TAGS:
            self.found.append(tag)
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith(("javascript:", "data:text", "vbscript:")):
                self.found.append(f"{tag}[{name}]")


def active(fragment: str) -> list[str]:
    """The active parts of `fragment` (an empty list when nothing could run). A leading
    `<style>` block — the note type's own CSS, as Anki puts it before a rendered side — is not
    counted."""
    fragment = re.sub(r"^<style>.*?</style>", "", fragment, count=1, flags=re.S)
    probe = _Active()
    probe.feed(fragment)
    probe.close()
    return probe.found
