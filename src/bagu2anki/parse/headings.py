"""Headings in the Markdown reader: their text without decoration, and whether one asks.

A heading is a question when it ends in `？` (tags after the mark allowed), carries a kind prefix
or a `Q：` label, is numbered where most numbered headings at its level ask, asks in words among
sibling headings that ask, or sets a hands-on task (`手撕 MHA`) or an interview topic that asks
(`面试专项：LoRA 参数怎么调`).
"""

from __future__ import annotations

import re

from bagu2anki.parse import rules

# `{#id .class}` (Pandoc, Hugo) and ` ^block-id` (Obsidian) closing a heading. Each is read from
# the last `{` or `^` (neither can hold another), with the white space before it: one pattern
# `\s*\{…\}\s*$|\s+\^…\s*$` searched along the heading starts again at every space of a long run.
_HEADING_ATTRS_RE = re.compile(r"\{\s*#[\w\-:.]+(?:\s+[.#]?[\w\-:.=\"']+)*\s*\}\s*$")
_BLOCK_ID_RE = re.compile(r"\^[A-Za-z0-9-]+\s*$")


def _without_attrs(t: str) -> str:
    cut = len(t)
    brace = t.rfind("{")
    if brace != -1 and _HEADING_ATTRS_RE.match(t, brace):
        cut = brace
    caret = t.rfind("^")
    if caret > 0 and t[caret - 1].isspace() and _BLOCK_ID_RE.match(t, caret):
        cut = min(cut, caret)
    if cut == len(t):
        return t
    return t[:cut].rstrip()  # with the white space before it


# Markup editors put around or before a heading's words: `<span id="q1">…</span>` (Typora's
# anchors), `<a name="q1"></a>`, `<font color=…>…</font>`
_HEADING_MARKUP = re.compile(r"</?(?:span|font)\b[^<>]*>|<a\s+(?:name|id)\s*=[^<>]*>\s*</a>", re.I)


def strip_heading(text: str) -> str:
    """A heading's text without `**…**` around it, a trailing `{#id .class}` (Pandoc, Hugo), an
    Obsidian block id (` ^q1`) or anchor and colour tags."""
    t = text.strip()
    if "<" in t:
        t = _HEADING_MARKUP.sub("", t).strip()
    t = _without_attrs(t)
    lead = rules.bold_lead(t)
    if lead is not None and not lead[1]:
        t = lead[0]
    return t.strip()


_CN_NUMBER = re.compile(r"^[一二三四五六七八九十百]+\s*[、.．]\s*")


def heading_question(
    text: str, numbered_majority: bool, asked_majority: bool = False, in_answer: bool = False
) -> tuple[str, str | None, str | None] | None:
    """(question, number, kind) when the heading asks. `in_answer`: the heading sits under a
    question heading, where one that asks only in words (`### 为什么除以根号 dk` under `## …为什么除以
    根号下Dk?…`) names a part of that answer; one with `？` is a follow-up of its own."""
    t = rules.strip_leading_emoji(_CN_NUMBER.sub("", strip_heading(text)))
    num, kind, q = rules.split_question(t)
    q = rules.strip_leading_emoji(q)
    if rules.labelled_number(t) and q:
        return q, num, kind  # `## Q07 · 学习率预热`: numbered as a question, whatever it says
    if _ABOUT_PAGE.search(q):
        return None  # `## 怎么用这份题库？`: how to read the page, nothing to drill
    if kind is not None or rules.q_label(t) is not None:
        return q, num, kind
    if rules.ends_with_question_mark(t):
        return q, num, kind
    if num is not None and (rules.asks_unmarked(q) or numbered_majority):
        return q, num, kind
    if not in_answer and _ASKING_HEADING.search(q) and not interview_prefixed(q):
        return q, num, kind  # `## 如何输出json`, `### What is LoRA`: asks in words as plainly as with `？`
    if not in_answer and asks_reader(q):
        return q, num, kind  # `### 介绍一下 GQA`, `### 简述 …`, `### 实现 LayerNorm`: asked of the reader
    if asked_majority and rules.asks_unmarked(q.lstrip("⭐★☆🔥✨❗‼️ ")):
        return q, num, kind  # `### 说一说 YaRN` among headings that end in `？`
    if HANDS_ON_RE.match(q):
        return q, num, kind or "手撕"  # `## 手撕 MHA`, its 题目 / 代码 / 复杂度 kept as one answer
    interview = _INTERVIEW_RE.match(q)
    if interview is not None and rules.asks_unmarked(q[interview.end() :]):
        return q[interview.end() :], num, kind  # `## 面试专项：LoRA 参数怎么调`
    return None


def title_question(text: str, asked_majority: bool = False) -> tuple[str, str | None, str | None] | None:
    """(question, number, kind) when a level-1 heading is a question rather than the file's
    title: it asks plainly (`# 什么是 Prefix LM？`, `# Q1：…`, `# 八股：…`, `# 3. …？`), or asks in
    words among level-1 headings of which a third or more end in `？`. `# 如何学习大模型` alone
    over an article stays its title."""
    hq = heading_question(text, False, asked_majority)
    if hq is None:
        return None
    t = rules.strip_leading_emoji(_CN_NUMBER.sub("", strip_heading(text)))
    if (
        asked_majority
        or rules.ends_with_question_mark(t)
        or rules.labelled_number(t)
        or hq[2] is not None
        or rules.q_label(t) is not None
    ):
        return hq
    return None


# A heading asks in words when it holds an interrogative (`## 如何输出json`, `### What is LoRA`);
# `A vs B`, `…的对比`, `…的区别` and `简述 …` name a topic as often as they ask, in headings.
_ASKING_HEADING = re.compile(
    r"什么|为什么|为何|如何|怎么|怎样|哪些|哪个|哪种|是否|能否|有没有|多少|^(?:what|why|how|which|when)\b\W*\w", re.I
)


# Headings that ask the reader to tell: `### 介绍一下 GQA`, `### 说说 MoE`, `### 简述残差连接`,
# `### 解释 dropout` (a bare 解释/描述/介绍 only before a space or a Latin name: `解释器` is a noun).
_TELL_ME = re.compile(
    r"^(?:请\s*)?(?:(?:简单)?介绍一?下|简述|说(?:说|一说|一下)|讲(?:讲|一讲|一下)|谈(?:谈|一谈|一下)|聊(?:聊|一下)"
    r"|解释一?下|描述一下|分析一下|阐述|(?:解释|描述|介绍)(?=\s|[A-Za-z]))\s*\S"
)
# Tasks: `### 实现 LayerNorm`, `### 手写 MHA`, `### 推导 softmax 的梯度`, not `### 实现细节` nor
# `### 推导过程` (the verb runs into a noun) nor `手写数字识别` (MNIST).
_TASK_HEADING = re.compile(r"^(?:手写|实现|推导|写出|编写|手推)(?:\s+|(?=[A-Za-z$\\]))\S|^写一个\s*\S")


def asks_reader(title: str) -> bool:
    """A heading that asks the reader to tell or to do something (`介绍一下 GQA`, `实现 LayerNorm`)."""
    return bool(_TELL_ME.match(title) or _TASK_HEADING.match(title))


_ABOUT_PAGE = re.compile(
    r"这页|本页|这一页|本文|这篇|本篇|这份|本章|本节|本书|本仓库|这个仓库|本题库|这个题库|\bthis (?:page|doc|guide|repo)", re.I
)


def asks_as_heading(text: str) -> bool:
    """A title that asks in words (`什么是扣子`, `How LoRA`), about something other than the page."""
    return bool(_ASKING_HEADING.search(text)) and not _ABOUT_PAGE.search(text)


def interview_prefixed(q: str) -> bool:
    return _INTERVIEW_RE.match(q) is not None


FOLLOW_UPS = ("那", "那么", "所以", "因此", "但是", "可是", "而", "这", "此时")
# `## 手撕 MHA`; not `## 手撕 / 编码题` (a section of them) nor 手写 (`手写数字识别实战` is MNIST)
HANDS_ON_RE = re.compile(r"^手撕\s*(?!(?:代码|题目?|环节|部分|算法题?|编程题?|coding|code)\s*$)[^\W_]", re.I)
# `## 手撕代码` / `## 代码题` over `### LayerNorm`, `### 交叉熵`: a section of hands-on tasks, each
# heading right under it one task
TASK_WORDS = re.compile(r"^(?:手撕|手写|实现|写一个|写出|推导|设计)")
HANDS_ON_SECTION = re.compile(r"^(?:手撕|手写)\s*(?:代码|题目?|环节|部分|算法题?|编程题?)?\s*$|^(?:代码题|编程题|算法题|手撕题)\s*$")
_INTERVIEW_RE = re.compile(r"^(?:面试专项|面试题|面试追问|高频面试题|高频题|面试官追问)\s*[:：]\s*")
