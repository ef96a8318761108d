"""Helpers both readers share: answer status, explicit ids."""

from __future__ import annotations

import re

from bagu2anki.model import Status
from bagu2anki.parse import rules

_ID_RE = re.compile(r"<!--\s*id\s*[:：]\s*([A-Za-z0-9_\-.:]{1,64})\s*-->")


def explicit_id(answer: str) -> tuple[str, str | None]:
    """`<!-- id: attn-scale -->` anywhere in the answer: the user's own stable id."""
    m = _ID_RE.search(answer)
    if not m:
        return answer, None
    cleaned = (answer[: m.start()] + answer[m.end() :]).strip("\n")
    return cleaned, m.group(1)


def classify_answer(answer: str) -> tuple[Status, str | None]:
    """answered | link_only | reference | unanswered (with the reference, when one)."""
    if not answer.strip():
        return "unanswered", None
    ref = rules.parse_reference(answer)
    if ref is not None:
        section, number = ref
        return "reference", f"{section}#{number}"
    if rules.is_link_only(answer):
        return "link_only", None
    return "answered", None
