"""Formulas in question titles, for the map page: MathML as data, and a plain-text form.

A card's front shows a title's `$…$` through Anki's MathJax; the map is offline and loads no
script but its own, so it gets the formulas as MathML (which Chromium, Safari and Firefox draw
natively), converted at build time by latex2mathml. The MathML never travels as markup: it is
turned into a JSON tree, ``[tag, {attribute: value}, child, …]`` with text children as strings,
keeping only the MathML elements and presentation attributes below (no ``href``, ``style``,
``class``, event handlers or colours); a formula with anything else, or too long or too deep,
falls back to its TeX source as text. The page rebuilds the tree with ``createElementNS`` over
the same allow-list (see the template), so note text never reaches an HTML parser.

Tooltips are plain text (vis-network shows them with ``innerText``): there a formula reads as a
line of Unicode, e.g. ``\\sqrt{d_k}`` as ``√(dₖ)`` and ``O(n^2)`` as ``O(n²)``.
"""

from __future__ import annotations

import functools
import html
import re
from typing import Any
from xml.etree.ElementTree import Element

from bagu2anki.parse.math import find_math

__all__ = ["MATHML_ATTRIBUTES", "MATHML_ELEMENTS", "plain_math", "title_segments"]

# Presentation MathML that latex2mathml writes and MathML Core (or every current browser) draws.
MATHML_ELEMENTS = frozenset(
    "math mrow mi mn mo ms mtext mspace msqrt mroot mfrac msub msup msubsup munder mover "
    "munderover mmultiscripts mprescripts none mstyle mpadded mphantom menclose mtable mtr mtd "
    "merror".split()
)
MATHML_ATTRIBUTES = frozenset(
    "display accent accentunder columnalign columnlines columnspacing depth displaystyle fence "
    "form frame height largeop linethickness lspace mathsize mathvariant maxsize minsize "
    "movablelimits notation rowlines rowspacing rspace scriptlevel separator stretchy symmetric "
    "voffset width".split()
)
# attribute values: keywords, numbers, lengths; nothing else
ATTRIBUTE_VALUE = re.compile(r"[\w.%# +-]{0,40}", re.ASCII)
MAX_TEX = 300  # characters of one formula (a title's formulas are short)
MAX_FORMULAS = 24  # formulas of one title drawn as MathML; any after them stay TeX
MAX_DEPTH = 40
MAX_NODES = 600
# Macro definitions could expand without bound: such a formula stays TeX.
_MACROS = re.compile(r"\\(?:def|[gex]def|let|(?:re|provide)?newcommand|newenvironment)(?![a-zA-Z])")

Tree = list[Any]  # [tag, {name: value}, *children]; a child is a Tree or a str
Segment = str | Tree


class _Unsupported(Exception):
    """The formula's MathML holds something the allow-list does not: keep its TeX."""


def title_segments(text: str) -> list[Segment] | None:
    """A title as text and MathML trees in reading order; None when it holds no formula.

    A formula latex2mathml cannot convert (or that the allow-list refuses) stays as its TeX,
    delimiters removed, inside the neighbouring text; so do those past MAX_FORMULAS, which
    keeps the work linear in the title's length.
    """
    spans, _problems = find_math(text)
    if not spans:
        return None
    out: list[Segment] = []

    def add_text(piece: str) -> None:
        if not piece:
            return
        if out and isinstance(out[-1], str):
            out[-1] += piece
        else:
            out.append(piece)

    at = 0
    for n, span in enumerate(spans):
        add_text(_unescape_dollars(text[at : span.start]))
        tree = mathml_tree(span.tex) if n < MAX_FORMULAS else None
        if tree is None:
            add_text(span.tex.strip())
        else:
            out.append(tree)
        at = span.end
    add_text(_unescape_dollars(text[at:]))
    return out


def plain_math(text: str) -> str:
    """`text` with each formula as a line of plain Unicode (for tooltips); text without a
    formula comes back unchanged."""
    segments = title_segments(text)
    if segments is None:
        return text
    return "".join(s if isinstance(s, str) else _plain(s) for s in segments)


@functools.lru_cache(maxsize=4096)
def _cached_tree(tex: str) -> Tree | None:
    if len(tex) > MAX_TEX or not tex.strip() or _MACROS.search(tex):
        return None
    try:
        from latex2mathml.converter import convert_to_element  # only where a formula is drawn

        element = convert_to_element(tex, display="inline")
        budget = [MAX_NODES]
        return _tree(element, 0, budget)
    except _Unsupported:
        return None
    except Exception:  # noqa: BLE001 - latex2mathml's own errors, RecursionError: keep the TeX
        return None


def mathml_tree(tex: str) -> Tree | None:
    """The allow-listed MathML tree of one formula (its TeX without delimiters), or None."""
    tree = _cached_tree(tex)
    return None if tree is None else _copy(tree)


def _copy(tree: Tree) -> Tree:
    return [tree[0], dict(tree[1]), *(k if isinstance(k, str) else _copy(k) for k in tree[2:])]


def _text(raw: str | None) -> str:
    # latex2mathml keeps characters as references ("&#x0221A;") in element text
    return html.unescape(raw) if raw else ""


def _tree(element: Element, depth: int, budget: list[int]) -> Tree:
    tag = element.tag
    if not isinstance(tag, str) or tag not in MATHML_ELEMENTS or depth > MAX_DEPTH:
        raise _Unsupported(str(tag))
    budget[0] -= 1
    if budget[0] < 0:
        raise _Unsupported("too many nodes")
    attributes = {
        name: value
        for name, value in sorted(element.attrib.items())
        if name in MATHML_ATTRIBUTES and ATTRIBUTE_VALUE.fullmatch(value)
    }
    node: Tree = [tag, attributes]
    if element.text:
        node.append(_text(element.text))
    for child in element:
        node.append(_tree(child, depth + 1, budget))
        if child.tail:
            node.append(_text(child.tail))
    return node


def _unescape_dollars(text: str) -> str:
    return text.replace("\\$", "$")


# ---------------------------------------------------------------- plain text

_SUPERSCRIPT = dict(
    zip(
        "0123456789+-−=()abcdefghijklmnoprstuvwxyzABDEGHIJKLMNOPRTUVW′",
        "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂ′",
        strict=True,
    )
)
_SUBSCRIPT = dict(
    zip(
        "0123456789+-−=()aehijklmnoprstuvx",
        "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ",
        strict=True,
    )
)
# accents latex2mathml puts over a base -> the combining mark that reads the same
_ACCENTS = {
    "^": "\u0302",
    "~": "\u0303",
    "¯": "\u0304",
    "˙": "\u0307",
    "→": "\u20d7",
    "―": "\u0305",
}
_RELATIONS = frozenset("=≠<>≤≥≈≡∼∝∈∉⊂⊆→←↔⇒⇐⇔↦")


def _plain(node: Segment) -> str:
    if isinstance(node, str):
        return node.replace("\u00a0", " ")
    tag = node[0]
    attributes: dict[str, str] = node[1]
    parts = [_plain(k) for k in node[2:]]
    if tag == "mo":
        text = "".join(parts)
        return f" {text} " if text in _RELATIONS else text
    if tag == "msqrt":
        return "√" + _grouped("".join(parts), strict=True)
    if tag == "mroot" and len(parts) == 2:
        return _script(parts[1], _SUPERSCRIPT, "") + "√" + _grouped(parts[0], strict=True)
    if tag == "mfrac" and len(parts) == 2:
        return f"{_grouped(parts[0])}/{_grouped(parts[1])}"
    if tag in ("msub", "munder") and len(parts) == 2:
        return parts[0] + _script(parts[1], _SUBSCRIPT, "_")
    if tag in ("msup", "mover") and len(parts) == 2:
        mark = _ACCENTS.get(parts[1].strip())
        if tag == "mover" and mark and len(parts[0]) == 1:
            return parts[0] + mark
        return parts[0] + _script(parts[1], _SUPERSCRIPT, "^")
    if tag in ("msubsup", "munderover") and len(parts) == 3:
        return parts[0] + _script(parts[1], _SUBSCRIPT, "_") + _script(parts[2], _SUPERSCRIPT, "^")
    if tag == "mphantom":
        return ""
    if tag == "mspace":
        return " "
    if tag == "mtr":
        return ", ".join(p.strip() for p in parts)
    if tag == "mtable":
        return "[" + "; ".join(parts) + "]"
    joined = _row(node[2:], parts)
    if tag == "math":
        return " ".join(joined.split()) if attributes.get("display") != "block" else joined.strip()
    return joined


def _row(children: list[Segment], parts: list[str]) -> str:
    """Parts side by side; a function name (`log`, `softmax`) keeps a space before a letter."""
    out = ""
    for i, (child, part) in enumerate(zip(children, parts, strict=True)):
        out += part
        named = isinstance(child, list) and child[0] in ("mi", "mo") and len(part) > 1
        if named and part.isalpha() and i + 1 < len(parts) and parts[i + 1][:1].isalnum():
            out += " "
    return out


def _grouped(text: str, strict: bool = False) -> str:
    """`text` as one operand: bracketed unless it is one already."""
    text = text.strip()
    if _atomic(text) or (not strict and text.isalnum()):
        return text
    return f"({text})"


def _atomic(text: str) -> bool:
    """One character, a root of an atom, or one bracketed group: `x`, `√(dₖ)`, `(a+b)`."""
    if len(text) <= 1:
        return True
    if text[0] == "√":
        return _atomic(text[1:])
    if not (text[0] == "(" and text[-1] == ")"):
        return False
    depth = 0
    for i, c in enumerate(text):
        depth += (c == "(") - (c == ")")
        if depth == 0 and i < len(text) - 1:
            return False
    return depth == 0


def _script(text: str, table: dict[str, str], mark: str) -> str:
    text = "".join(text.split())
    if text and all(c in table for c in text):
        return "".join(table[c] for c in text)
    return mark + _grouped(text)
