"""Helpers both readers share: answer status (links only, references to other questions),
explicit ids, concept chains stated in prose, the patterns a user declares for their notes."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from bagu2anki.model import Status
from bagu2anki.parse import rules

_ID_RE = re.compile(r"<!--\s*id\s*[:：]\s*([A-Za-z0-9_\-.:]{1,64})\s*-->")


@dataclass(frozen=True, slots=True)
class ReadingRules:
    """What the user declares marks a question in their notes (`[reading]` in bagu2anki.toml):
    regular expressions searched in a heading's text or a line's text. A declared pattern wins
    over the reader's own rules: `question` makes the heading or line a question (what the match
    covers at its start, such as `Q07 ·`, is left off the front), `not_question` keeps it text."""

    question: tuple[str, ...] = ()
    not_question: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.question or self.not_question)

    def question_text(self, text: str) -> str | None:
        """The question a declared pattern finds in `text` (without its marker), or None."""
        t = text.strip()
        for pattern in _compiled(self.question):
            m = pattern.search(t)
            if m is not None:
                rest = t[m.end() :].strip() if m.start() == 0 else t
                return rest or t
        return None

    def refuses(self, text: str) -> bool:
        t = text.strip()
        return any(p.search(t) for p in _compiled(self.not_question))


@functools.cache
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


def explicit_id(answer: str) -> tuple[str, str | None]:
    """`<!-- id: attn-scale -->` anywhere in the answer: the user's own stable id."""
    m = _ID_RE.search(answer)
    if not m:
        return answer, None
    cleaned = (answer[: m.start()] + answer[m.end() :]).strip("\n")
    return cleaned, m.group(1)


# what stands in for an answer not written yet: `略`, `。。不会`, `待补充`, `TODO`
_PLACEHOLDER = re.compile(
    r"^(?:略|省略|不会|不会写|不知道|待补充|待补|待完善|待续|待整理|未完成|暂无|暂缺|空|无|没写|没写出来|没答出来|没答上来|没答好|没记|"
    r"todo|tbd|wip|\?+|？+)?$",
    re.I,
)
_BARE_NUMBER = re.compile(r"\d{1,3}[.．、]?")
_PLACEHOLDER_FILL = re.compile(r"[\s。.…,，、!！~～*_()（）\[\]【】:：-]+")


def is_placeholder(answer: str) -> bool:
    """An answer that only holds a placeholder (or dots): the question waits for its answer."""
    text = answer.strip()
    if len(text) > 24 or "\n" in text:
        return False
    if rules.only_label(text):  # `答案：` with nothing after it
        return True
    if _BARE_NUMBER.fullmatch(text):  # `8.`: the next question's number, its text missing
        return True
    return bool(_PLACEHOLDER.match(_PLACEHOLDER_FILL.sub("", text)))


# A choice question's options (`A. LoRA` / `B. 全参数微调` …, one per line or `A. 2  B. 4  C. 8` on
# one) opening what follows it, then the answer (`答案：B`): they belong on the front.
_OPTION = re.compile(r"^[ \t]*(?:[-*+][ \t]+)?[（(]?([A-H])[)）.．、:：][ \t]*\S")
_OPTIONS_IN_A_ROW = re.compile(r"^[ \t]*[（(]?A[)）.．、:：][ \t]*\S.*?[ \t][（(]?B[)）.．、:：][ \t]*\S")
_CHOSEN = re.compile(r"^(?:\*\*|__)?(?:正确答案|参考答案|答案|答)\s*(?:是|为)?\s*[:：]?", re.I)


def options_to_front(question: str, answer: str) -> tuple[str, str]:
    """(question with its options, the answer after them) for a choice question; the two as
    they were otherwise. Options count from A, one letter after another, at least two, and an
    answer line (`答案：B`) must follow them."""
    if not answer or answer.lstrip()[:1] not in "ABＡ(（-*+" :
        return question, answer
    lines = answer.split("\n")
    k = 0
    options: list[str] = []
    if _OPTIONS_IN_A_ROW.match(lines[0]):
        options, k = [lines[0].strip()], 1
    else:
        for k, line in enumerate(lines):  # noqa: B007 (k is where the options end)
            m = _OPTION.match(line)
            if m is None or m.group(1) != chr(ord("A") + len(options)):
                break
            options.append(line.strip())
        else:
            k = len(lines)
        if len(options) < 2:
            return question, answer
    rest = "\n".join(lines[k:]).strip("\n")
    if not _CHOSEN.match(rest.lstrip()):
        return question, answer
    return question + "\n" + "\n".join(options), rest


def classify_answer(answer: str) -> tuple[Status, str | None]:
    """answered | link_only | reference | unanswered (with the reference, when one); read past
    an answer's label (`答:待补充` waits, `答:同上` refers)."""
    if not answer.strip() or is_placeholder(answer):
        return "unanswered", None
    unlabelled = rules.ANSWER_LABEL.sub("", answer.strip(), count=1)
    if unlabelled != answer.strip():
        if not unlabelled.strip() or is_placeholder(unlabelled):
            return "unanswered", None
        answer = unlabelled
    ref = rules.parse_reference(answer)
    if ref is not None:
        section, number = ref
        return "reference", f"{section}#{number}"
    if is_link_only(answer):
        return "link_only", None
    return "answered", None


# --- answers made of links ----------------------------------------------------------------------

_URL_RE = re.compile(r"(?:https?://|www\.)[^\s<>()（）\]]+")
# No `[` inside a label or target: a line of `[` is then tried once per `[`, not to its end each time.
_MD_LINK_RE = re.compile(r"!?\[[^\[\]]*\]\([^)\[]*\)|\[\[[^\[\]]+\]\]|<https?://[^<>]+>")
_LINK_LABEL_RE = re.compile(
    r"^(?:答案|参考|参考链接|链接|详见|见|原文|来源|reference|ref|see|看这个简单些|看这个)\s*[:：]?\s*", re.I
)


def is_link_only(answer: str) -> bool:
    """An answer made of links (and link labels) only."""
    rest = answer
    rest = _MD_LINK_RE.sub(" ", rest)
    rest = _URL_RE.sub(" ", rest)
    leftover = []
    for line in rest.splitlines():
        s = line.strip().lstrip("-*+>").strip()
        s = _LINK_LABEL_RE.sub("", s).strip(" :：→-—,，;；。.")
        if s:
            leftover.append(s)
    return not leftover and bool(_URL_RE.search(answer) or _MD_LINK_RE.search(answer))


# --- prose chains --------------------------------------------------------------------------------

_TERM = r"[A-Za-z][A-Za-z0-9.+/_]*(?:-(?!>)[A-Za-z0-9.+/_]+)*"
_ARROW = r"\s*(?:->|→|=>|⇒|⟶)\s*"
_CHAIN_RE = re.compile(rf"(?<![\w/-])({_TERM}(?:{_ARROW}{_TERM})+)(?![\w/])")
_CHAIN_SPLIT_RE = re.compile(_ARROW)


def find_chain(line: str) -> tuple[str, ...] | None:
    """`MHA -> MQA -> GQA -> MLA`, alone or inside a sentence -> its parts (Latin terms)."""
    if "->" not in line and "→" not in line and "=>" not in line and "⇒" not in line and "⟶" not in line:
        return None
    best: tuple[str, ...] | None = None
    for m in _CHAIN_RE.finditer(line.replace("`", "").replace("**", "")):
        parts = tuple(p.strip().strip(".") for p in _CHAIN_SPLIT_RE.split(m.group(1)))
        if len(parts) >= 2 and all(parts) and (best is None or len(parts) > len(best)):
            best = parts
    return best


# --- VitePress containers ---

CONTAINERS = (
    "tip", "info", "warning", "danger", "details", "note", "important", "caution", "success", "code-group",
)


def is_container(params: str, *_: object) -> bool:
    """`::: tip 标题` (or Docusaurus' `:::tip[标题]`) opens a box of one of the known kinds. One
    container rule for all the kinds: markdown-it tries every block rule on every line, so nine
    rules cost nine times."""
    return container_head(params) is not None


_BRACKET_TITLE = re.compile(r"^(\w+)\[(.*)\]$")


def container_head(params: str) -> tuple[str, str] | None:
    """(kind, title) of a box's opening line: `tip 标题`, `info[简答]`; None for an unknown kind."""
    words = params.strip().split(maxsplit=1)
    if not words:
        return None
    m = _BRACKET_TITLE.match(words[0]) if len(words) == 1 else None
    kind, title = (m.group(1), m.group(2).strip()) if m else (words[0], words[1] if len(words) > 1 else "")
    return (kind, title) if kind in CONTAINERS else None


@dataclass
class Event:
    """Where a question or topic starts in a Markdown note (found by `events.py`, used by
    `numbering.py` and cut into atoms by `markdown.py`)."""

    line: int  # 0-based first line
    kind: str  # "topic" | "question" | "end" (what follows, up to the next event, is in no question)
    level: int = 0  # heading level (0 for inline questions)
    title: str = ""
    number: str | None = None
    qkind: str | None = None
    answer_head: str = ""
    body_start: int = 0  # first line of the answer body
    item_indent: int = 0  # list item content indent to strip from the answer
    via: str = ""
    quote_end: int = 0  # answer lines before this one lose their `>` (`> [!question] …` callouts)
