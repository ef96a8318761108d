"""Section titles in flat text exports: what a title line looks like (`模板3`, `模板6:阿里`,
`项目一 知识库RAG`, `二、微调`, `代码题`, `HR面`) and which titles are of one family."""

from __future__ import annotations

import re

from bagu2anki.parse import rules

_DIGITS = re.compile(r"\d+")
_NUMBERED_LEAD = re.compile(r"^([^\d一二三四五六七八九十\s]{1,4})(?:\d+|[一二三四五六七八九十]+)(?:\s|[:：]|$)")
_SENTENCE_PUNCT = re.compile(r"[，。,:：？?！!；;、]|https?://")


def _plain_title(line: str) -> bool:
    s = line.strip()
    if not s or len(s) > 24:
        return False
    if _SENTENCE_PUNCT.search(s) or rules.LIST_START.match(s) or s.startswith(("|", "\\", "(", "（")):
        return False
    if rules.kind_prefix(s)[0] or rules.number_prefix(s)[0] or rules.parse_reference(s):
        return False
    return True


CN_NUMBERED = re.compile(r"^[一二三四五六七八九十]{1,3}[、.．]")  # `二、微调`: chapter numbering
_CN_TITLE_RE = re.compile(CN_NUMBERED.pattern + r"\s*(?P<rest>\S.{0,19})$")


def looks_like_title(line: str) -> bool:
    """A short line without sentence punctuation: a section title in a flat export (`模板3`,
    also `二、微调`, the chapter numbering CSDN posts use)."""
    s = line.strip()
    m = _CN_TITLE_RE.match(s)
    return _plain_title(m.group("rest") if m else s)


def shape(title: str) -> str:
    """`模板1` / `模板2` / `模板B` / `第三轮` all have the shape of a numbered title; so do
    `一、基础` and `四、英文面`."""
    if CN_NUMBERED.match(title.strip()):
        return "#、"
    lead = _NUMBERED_LEAD.match(rules.nfkc(title).strip().lower())
    if lead is not None:
        return lead.group(1) + "#"  # `项目一 企业知识库RAG` / `项目二 Agent 助手`: `项目#`
    t = _DIGITS.sub("#", rules.nfkc(title).strip().lower())
    t = re.sub(r"[一二三四五六七八九十]+", "#", t)
    return re.sub(r"(?<=[^a-z])[a-z]$|^[a-z](?=[^a-z])", "#", t)


# Words that name a part of an interview write-up: `美团一面`, `第二轮`, `模板3`, `RAG 专题`.
SECTION_WORD = re.compile(
    r"(?:[一二三四五六七八九十\d]+面|(?:HR|hr|主管|交叉|终)面$|面试(?:题|八股|记录|总结|复盘)?$|[一二三四五六七八九十\d]+轮|模板|专题|合集|题库|篇$|章$"
    r"|\S(?:相关|部分|基础|进阶|场景题|问题汇总)$)"
)
# A title that names a kind of question: `代码题`, `手撕`, `项目八股`, `Agent八股`.
KIND_TITLE = re.compile(r"^(?:" + "|".join(map(re.escape, rules.KINDS)) + r"|.{0,12}八股)$", re.I)
_CN_DIGITS = {c: k for k, c in enumerate("一二三四五六七八九", 1)}


def cn_value(title: str) -> int | None:
    """`二、微调` -> 2, `十二、…` -> 12; None for a title not numbered that way."""
    m = CN_NUMBERED.match(title.strip())
    if m is None:
        return None
    word = m.group(0)[:-1]
    if word == "十":
        return 10
    if word.startswith("十"):
        return 10 + _CN_DIGITS.get(word[1:], 0)
    if "十" in word:
        tens, _, ones = word.partition("十")
        return 10 * _CN_DIGITS.get(tens, 0) + _CN_DIGITS.get(ones, 0)
    return _CN_DIGITS.get(word)


class Shapes:
    """The shapes of the section titles read so far (see `shape`), kept so that each question a
    reader asks of them costs the same however many there are."""

    def __init__(self) -> None:
        self._shapes: set[str] = set()
        self._family_ends: set[str] = set()  # last characters of the short `#…` shapes
        self.numbered = False  # some title so far is numbered (`项目一 …`, `模板3`)

    def add(self, sh: str) -> None:
        self._shapes.add(sh)
        if len(sh) <= 8 and sh.startswith("#"):
            self._family_ends.add(sh[-1:])
        self.numbered = self.numbered or "#" in sh

    def __contains__(self, sh: object) -> bool:
        return sh in self._shapes

    def __bool__(self) -> bool:
        return bool(self._shapes)

    def same_family(self, line: str) -> bool:
        """`HR面` is of the family of `#面` (一面, 二面): a short title with the same last character."""
        s = rules.nfkc(line).strip().lower()
        return len(s) <= 8 and bool(s) and s[-1:] in self._family_ends


def title_like(line: str) -> bool:
    """A section title; also `模板6:阿里` / `项目二：RAG`, a numbered title with a name after a colon."""
    if looks_like_title(line):
        return True
    head, colon, tail = rules.nfkc(line).strip().partition(":")
    return bool(colon) and _NUMBERED_LEAD.match(head + " ") is not None and looks_like_title(head) and (
        not tail.strip() or looks_like_title(tail)
    )


# How a question's place may be written before it, beyond `3.` / `Q3：`: `第3题`, `第三问`,
# `一、`, `①`, `1️⃣`.
_ORDINAL = re.compile(
    r"^(?:第\s*(?P<d>\d{1,3}|[一二三四五六七八九十]{1,3})\s*[题问][\s:：.．、　]*"
    r"|(?P<cn>[一二三四五六七八九十]{1,3})[、．.]\s*"
    r"|(?P<circled>[\u2460-\u2473])\s*"
    r"|(?P<key>[0-9])\ufe0f?\u20e3\s*|(?P<ten>\U0001f51f)\s*)(?P<rest>\S.*)$",
    re.S,
)


def ordinal_prefix(text: str) -> tuple[str | None, str]:
    """`第3题　什么是 SFT？` -> ("3", "什么是 SFT？"); also `第三题`, `三、…`, `③ …`, `3️⃣ **…**`
    (a question wholly in bold loses its stars); (None, text) otherwise."""
    m = _ORDINAL.match(text.strip())
    if m is None:
        return None, text
    if m.group("d") is not None:
        d = m.group("d")
        value = int(d) if d.isdigit() else cn_value(d + "、")
    elif m.group("cn") is not None:
        value = cn_value(m.group("cn") + "、")
    elif m.group("circled") is not None:
        value = ord(m.group("circled")) - 0x2460 + 1
    elif m.group("key") is not None:
        value = int(m.group("key"))
    else:
        value = 10
    rest = m.group("rest").strip()
    lead = rules.bold_lead(rest)
    if lead is not None and not lead[1]:
        rest = lead[0]
    return (str(value) if value else None), rest

