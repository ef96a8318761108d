"""Build results -> `report.md`: counts per section, the to-do list, every diagnostic."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from bagu2anki.config import Config
from bagu2anki.diagnostics import Diagnostics, clip, counted
from bagu2anki.identity import Identity
from bagu2anki.model import Card
from bagu2anki.write.reading_view import PAGES_FOLDER, page_names

if TYPE_CHECKING:
    from bagu2anki.analysis import Analysis


def render_report(
    cfg: Config, analysis: Analysis, cards: Sequence[Card], identity: Identity, diags: Diagnostics
) -> str:
    atoms = analysis.atoms
    out: list[str] = [f"# bagu2anki report: {cfg.deck_name()}", ""]
    statuses = Counter(a.status for a in atoms)
    note_cards = [c for c in cards if c.atom.source != "concepts"]
    out.append(
        f"{counted(len(atoms), 'question')} in {counted(len(analysis.documents), 'file')}; "
        f"{counted(len(note_cards), 'question card')} and {counted(len(cards) - len(note_cards), 'concept card')}"
        " in the deck."
    )
    out.append("")
    out.append("| status | count |")
    out.append("|---|---|")
    for s in ("answered", "link_only", "reference", "unanswered"):
        out.append(f"| {s} | {statuses.get(s, 0)} |")
    out.append("")
    out.extend(_reading_links(analysis))
    out.append("## Questions per section")
    out.append("")
    out.append("| file | section | questions | unanswered |")
    out.append("|---|---|---|---|")
    per: Counter[tuple[str, str]] = Counter()
    unans: Counter[tuple[str, str]] = Counter()
    first: dict[tuple[str, str], int] = {}
    for a in atoms:
        key = (a.source, " › ".join(a.section) or "—")
        per[key] += 1
        first.setdefault(key, a.line)
        if a.status == "unanswered":
            unans[key] += 1
    for key in sorted(per, key=lambda k: (k[0], first[k])):
        out.append(f"| {_cell(key[0])} | {_cell(key[1])} | {per[key]} | {unans[key]} |")
    out.append("")
    todo = [a for a in atoms if a.status == "unanswered"]
    out.append(f"## To do: unanswered questions ({len(todo)})")
    out.append("")
    if not cfg.include_unanswered and todo:
        out.append("Left out of the deck; `--include-unanswered` adds them tagged `待补充`.")
        out.append("")
    for a in todo:
        out.append(f"- [ ] {a.source}:{a.line} — {a.question}")
    out.append("")
    concept_cards = [c for c in cards if c.atom.source == "concepts"]
    if concept_cards:
        used = Counter(cid for c in note_cards for cid in c.concepts)
        out.append(f"## Concept cards ({len(concept_cards)})")
        out.append("")
        out.append("`--concept-cards all|used|none` decides which concepts get a card of their own.")
        out.append("")
        for c in concept_cards:
            name = c.atom.question.removeprefix("概念：").removesuffix(" 是什么？")
            out.append(f"- {_cell(name)} ({c.main_concept}): {counted(used[c.main_concept or ''], 'question')}")
        out.append("")
    links = [a for a in atoms if a.status in ("link_only", "reference")]
    if links:
        out.append(f"## Answers that are only links or references ({len(links)})")
        out.append("")
        for a in links:
            out.append(f"- {a.source}:{a.line} ({a.status}) — {a.question}")
        out.append("")
    stray = [u for d in analysis.documents for u in d.unattached]
    out.append(f"## Text not attached to any question ({len(stray)})")
    out.append("")
    out.append(
        "Section introductions and stray lines: kept out of the cards, listed so nothing is lost silently. "
        "⚠ marks text that may have been misread (a warning below says why)."
    )
    out.append("")
    cut = {(d.path, d.line) for d in diags.items if d.code == "unattached-after-answer"}
    unread_files = {d.path for d in diags.items if d.code in ("no-questions", "uncarded-text")}
    for u in stray:
        opening = clip(u.text.strip().split("\n", 1)[0], 70)
        span = f"{u.line}" if u.line == u.end_line else f"{u.line}-{u.end_line}"
        mark = " ⚠" if (u.source, u.line) in cut or u.source in unread_files else ""
        out.append(f"- {u.source}:{span}{mark} — {opening}")
    out.append("")
    if identity.orphans:
        out.append(f"## Orphans: questions gone from the notes ({len(identity.orphans)})")
        out.append("")
        out.append(
            "Anki never deletes notes on import. To remove these from your collection, open the Browser "
            "and search for the question text (e.g. `\"Question:*text*\"`), then delete the note."
        )
        out.append("")
        for o in identity.orphans:
            out.append(f"- {o.source} — {o.question} (id `{o.guid}`)")
        out.append("")
    out.append(f"## Diagnostics ({counted(diags.errors, 'error')}, {counted(diags.warnings, 'warning')})")
    out.append("")
    if stray:
        out.append("The notes on text in no question that `check -v` prints are the list above, not repeated here.")
        out.append("")
    for d in diags.sorted():
        if d.code != "unattached":
            out.append(f"- `{d.location()}`: {d.severity}: {d.message}")
    out.append("")
    return "\n".join(out)


def _reading_links(analysis: Analysis) -> list[str]:
    """Each file linked to its page in `reading/`: the file line by line, as it was read."""
    docs = analysis.documents
    out = [
        f"## How each file was read ({counted(len(docs), 'file')})",
        "",
        "Each page shows the file line by line, marked question, follow-up, to do, answer, structure "
        "or in no card, as `bagu2anki show FILE` prints it.",
        "",
        "| file | questions | unanswered |",
        "|---|---|---|",
    ]
    for doc, name in zip(docs, page_names([d.source.rel for d in docs]), strict=True):
        todo = sum(1 for a in doc.atoms if a.status == "unanswered")
        link = f"[{_link_text(doc.source.rel)}]({PAGES_FOLDER}/{quote(name)})"
        out.append(f"| {link} | {len(doc.atoms)} | {todo} |")
    out.append("")
    return out


def _link_text(text: str) -> str:
    """A file's path as a Markdown link's text, in a table cell: brackets, `|`, `*`, `_`,
    backticks and `<` escaped, so the path shows as written and opens nothing."""
    return re.sub(r"([\\\[\]|*_`<>])", r"\\\1", text)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def write_report(
    path: Path, cfg: Config, analysis: Analysis, cards: Sequence[Card], identity: Identity, diags: Diagnostics
) -> None:
    text = render_report(cfg, analysis, cards, identity, diags)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
