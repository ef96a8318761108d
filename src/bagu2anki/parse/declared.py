"""The user's own question markers (`[reading]` in bagu2anki.toml) in the Markdown reader: what a
declared pattern says of one top-level block, as a function that adds its event. `events.py`
asks this first, so a declared pattern wins over every inferred rule."""

from __future__ import annotations

from typing import Any

from markdown_it.token import Token

from bagu2anki.parse import rules
from bagu2anki.parse.common import Event, ReadingRules
from bagu2anki.parse.headings import strip_heading
from bagu2anki.parse.lists import inline_text, skip_block, top_items


def declared_block(reading: ReadingRules, tokens: list[Token], i: int, t: Token) -> Any:
    """What a `[reading]` pattern says of the block at `i` (a heading, paragraph, quote or list item's
    first line): a function adding its event and giving (next token, open kind), or None when no
    declared pattern speaks of it."""
    assert t.map is not None
    start, end = t.map
    if t.type == "heading_open":
        text, lvl, nxt = strip_heading(inline_text(tokens, i)), int(t.tag[1]), i + 1
    elif t.type == "paragraph_open":
        text, lvl, nxt = inline_text(tokens, i).split("\n", 1)[0], 0, i + 1
    elif t.type in ("blockquote_open", "bullet_list_open", "ordered_list_open"):
        k = i + 1
        while k < len(tokens) and tokens[k].type not in ("paragraph_open", "inline"):
            k += 1
        text = inline_text(tokens, k).split("\n", 1)[0] if k < len(tokens) else ""
        lvl, nxt = 0, skip_block(tokens, i)
        if t.type != "blockquote_open":
            return None if reading.question_text(text) is None else declared_items(reading, tokens, i)
    else:
        return None
    question = reading.question_text(text)
    if question is None and not reading.refuses(text):
        return None

    def add(events: list[Event], line: int) -> tuple[int, str | None]:
        if question is None:
            if lvl:
                events.append(Event(line, "topic", lvl, text, body_start=end))
            return nxt if lvl else skip_block(tokens, i), None
        num, kind, q = rules.split_question(question)
        events.append(Event(line, "question", lvl, q, num, kind, "", line + 1 if not lvl else end, via="declared"))
        return nxt, "heading" if lvl else "inline"

    return add


def declared_items(reading: ReadingRules, tokens: list[Token], i: int) -> Any:
    """A list whose first item a declared pattern marks: each item it marks is a question."""

    def add(events: list[Event], _line: int) -> tuple[int, str | None]:
        for item_line, item_text, indent, _number in top_items(tokens, i):
            question = reading.question_text(item_text.split("\n", 1)[0])
            if question is not None:
                num, kind, q = rules.split_question(question)
                events.append(Event(item_line, "question", 0, q, num, kind, "", item_line + 1, item_indent=indent, via="declared"))
        return skip_block(tokens, i), "inline"

    return add
