"""Analysis + cards -> the offline concept map (`graph.html`), through `graph_html`."""

from __future__ import annotations

import hashlib
import html
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bagu2anki.model import Card
from bagu2anki.render import plain_text
from bagu2anki.write.graph_html import MapData, MapEdge, MapNode, MapQuestion, write_map

if TYPE_CHECKING:
    from bagu2anki.analysis import Analysis


# Whole answers ride along in the page while they fit this budget; past it (thousands of
# questions) each answer is cut to an excerpt sized so that all excerpts share the budget,
# which keeps the page under 5 MB and quick to open.
ANSWER_BUDGET = 1_200_000
EXCERPT_CHARS = 160
MIN_EXCERPT = 24


def map_data(title: str, analysis: Analysis, cards: Sequence[Card]) -> MapData:
    questions: dict[str, list[MapQuestion]] = defaultdict(list)
    atom_ids: dict[str, list[str]] = defaultdict(list)
    linked = [c for c in cards if c.atom.source != "concepts" and c.concepts]
    whole = sum(len(c.back_html.encode("utf-8")) for c in linked) <= ANSWER_BUDGET
    # about 3 bytes a character for Chinese text, plus the record's own markup
    chars = min(EXCERPT_CHARS, ANSWER_BUDGET // (3 * max(1, len(linked))) - 10)
    for c in linked:
        answer = c.back_html if whole else _excerpt(c.back_html, chars)
        q = MapQuestion(c.guid, c.atom.question, answer, f"{c.atom.source}:{c.atom.line}")
        for cid in c.concepts:
            questions[cid].append(q)
            atom_ids[cid].append(c.guid)
    export: dict[str, Any] = analysis.graph.to_export(dict(atom_ids), only_used=False)
    layers = analysis.graph.layers()
    nodes = tuple(
        MapNode(
            id=str(n["id"]),
            label=str(n["label"]),
            aliases=tuple(str(a) for a in n["aliases"]),
            description=str(n["description"]),
            domain=str(n["domain"]),
            layer=int(layers.get(str(n["id"]), 0)),
            questions=tuple(questions.get(str(n["id"]), ())),
        )
        for n in export["nodes"]
    )
    edges = tuple(MapEdge(str(e["source"]), str(e["target"]), str(e["origin"])) for e in export["edges"])
    return MapData(title, nodes, edges)


def _excerpt(back_html: str, chars: int) -> str:
    if chars < MIN_EXCERPT:
        return "<p>（答案见卡片）</p>"
    text = leading_text(back_html, chars)
    if len(text) > chars:
        text = text[:chars].rstrip() + "…（见卡片）"
    return f"<p>{html.escape(text)}</p>"


LOOK_FIRST = 4096
"""Characters of an answer's HTML an excerpt is first made from (answers run to tens of KB)."""
_MARGIN = 40  # what a join can change at the end of a prefix's text: an entity cut in two


def leading_text(back_html: str, chars: int, look: int = LOOK_FIRST) -> str:
    """The answer's text with its white space collapsed, or a beginning of it longer than
    `chars`: the same first `chars` characters either way.

    Made from the first `look` characters of the HTML when that shows enough, cut before a tag
    still open there: no tag crosses the cut, so only the text's last few characters can read
    otherwise than in the whole answer (an entity cut in two, a space), and those are past the
    margin."""
    opened = back_html.rfind("<", 0, look)
    end = look if opened < 0 or back_html.rfind(">", 0, look) > opened else opened
    if 0 < end < len(back_html):
        text = " ".join(plain_text(back_html[:end]).split())
        if len(text) > chars + _MARGIN:
            return text
    return " ".join(plain_text(back_html).split())


Drawn = tuple[str, str]
"""A written map: the digest of what it shows (`shows`) and the digest of its bytes."""


def write_concept_map(
    title: str, analysis: Analysis, cards: Sequence[Card], path: Path, previous: Path | None = None, known: Drawn | None = None
) -> Drawn:
    """Write the map to `path`; or nothing, when `previous` (the map in place) is the page that
    `known` describes and it would show just what it shows (then `previous` stays as it is)."""
    data = map_data(title, analysis, cards)
    shows = map_shows(data)
    if previous is not None and known is not None and known[0] == shows and _bytes_digest(previous) == known[1]:
        return known
    write_map(data, path)
    return shows, _bytes_digest(path)


def map_shows(data: MapData) -> str:
    """A digest of everything the page is made of: its data, this installation's code and
    templates, and the libraries that draw it."""
    from importlib.metadata import PackageNotFoundError, version

    from bagu2anki.stamp import code_digest

    h = hashlib.sha256(f"{code_digest()}\x00".encode())
    for lib in ("pyvis", "latex2mathml", "jinja2", "markupsafe"):
        try:
            h.update(f"{lib} {version(lib)}\x00".encode())
        except PackageNotFoundError:
            h.update(f"{lib} -\x00".encode())
    h.update(repr(data).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def _bytes_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""
