"""How a line announces a question: an ordered table of small predicates shared by both readers.

Each rule takes the text of a line (or heading, or list item) and returns a `QuestionMark` or
None. Adding a note style is one function and one row in `LINE_RULES`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

# Interview-note kinds written as a prefix: `八股：…`, `项目:…`, `代码题：…`.
KINDS = (
    "八股",
    "项目",
    "智力题",
    "代码题",
    "算法题",
    "场景题",
    "手撕",
    "手撕代码",
    "开放题",
    "系统设计",
    "论文",
    "追问",
    "反问",
    "HR",
    "行为题",
    "概念题",
    "面试题",
)
_KINDS_ALT = "|".join(sorted(map(re.escape, KINDS), key=len, reverse=True))
_KIND_RE = re.compile(  # `八股：…`, or bracketed, `【八股】…`
    rf"^(?:(?P<kind>{_KINDS_ALT})\s*[:：]|【\s*(?P<bkind>{_KINDS_ALT})\s*】\s*[:：]?)\s*(?P<rest>\S.*)$"
)
_NUMBER_RE = re.compile(  # `3.` `3、` `3)` `（3）` `Q3:` `问题3：` `1.2`
    r"^(?:(?P<q>[Qq]uestion|[Qq]|问题|题目)\s*(?P<qn>\d{1,3})\s*[:：.．、·•｜|—–-]?|[（(](?P<pn>\d{1,3})[）)]"
    r"|(?P<n>\d{1,3}(?:\.\d{1,2})*)\s*(?:[.．、)）]|\s)(?!\d))\s*(?P<rest>\S.*)$"
)
_QLABEL_RE = re.compile(
    r"^(?:(?P<label>Q|问|问题|面试官|Question)\s*(?P<n>\d*)\s*[:：]|【\s*(?:Q|问|问题|题目|面试题)\s*(?P<bn>\d*)\s*】\s*[:：]?"
    r"|(?:Q|Question)\s*(?P<dn>\d{1,3})\s*[.．、](?!\d))\s*(?P<rest>\S.*)$",
    re.I,
)
_QWORD_RE = re.compile(r"^(?:Q\d*|问|问题|面试官|Question)\s*[:：]?$", re.I)

_ASK_WORDS = (
    "什么",
    "为什么",
    "为何",
    "如何",
    "怎么",
    "怎样",
    "哪些",
    "哪个",
    "哪种",
    "是否",
    "有没有",
    "能否",
    "能不能",
    "可不可以",
    "区别",
    "差异",
    "异同",
    "对比",
    "原理",
    "介绍",
    "讲一下",
    "讲讲",
    "谈谈",
    "说说",
    "说一下",
    "解释",
    "优缺点",
    "作用",
    "流程",
    "理解",
    "比较",
    "了解",
    "多少",
    "简述",
    "阐述",
    "概述",
    "描述一下",
    "列举",
)
_ASK_RE = re.compile("|".join(_ASK_WORDS))
# Decorations written after a question: `（高频）`, `【字节一面】`, `[必考]`, `🔥`, `⭐⭐`: a tag is a
# bracket, 1 to 12 characters (no bracket, question mark or line break) and a closing bracket.
_TAG_OPENERS = "（(【["
_TAG_CLOSERS = "）)】]"
_TAG_STOPS = frozenset("（）()【】[]？?\n")
_TAG_LONGEST = 14  # characters of the longest tag


def _is_emoji(c: str) -> bool:
    """Pictographs as notes use them for decoration: the misc. symbols and dingbats (☆ ✅ ❗),
    stars and shapes of U+2B00–2BFF (⭐ ⭕), the emoji planes, and the joiners of emoji."""
    return (
        "\u2600" <= c <= "\u27bf" or "\u2b00" <= c <= "\u2bff" or "\U0001f000" <= c <= "\U0001faff" or c in "\ufe0f\u200d"
    )


def _trailing_tags_start(s: str) -> int:
    r"""Where the tags and emoji closing `s` start, with the white space around them (len(s)
    when none): `re.sub(r"(?:\s*(?:TAG|EMOJI+))+\s*$", "", s)` keeps `s[:start]`. Read from the
    end, and only as far as tags reach: the expression itself would start again at every
    space of a long run of them. (What is known of each place read is kept in a set, not in a
    list as long as the line: most lines end in no tag at all.)"""
    n = len(s)
    rest = {n}  # p in rest: s[p:] is tags, emoji and white space only
    tagged: set[int] = set()  # ... with at least one tag or emoji
    start = reach = n  # reach: the first place from which something is still possible
    for p in range(n - 1, -1, -1):
        if reach - p > _TAG_LONGEST:
            break
        c = s[p]
        if c.isspace():
            if p + 1 in rest:
                rest.add(p)
            if p + 1 in tagged:
                tagged.add(p)
        elif _is_emoji(c):
            if p + 1 in rest:
                rest.add(p)
                tagged.add(p)
        elif c in _TAG_OPENERS:
            q = p + 1
            while q < n and q - p < _TAG_LONGEST and s[q] not in _TAG_STOPS:
                q += 1
            if q < n and 2 <= q - p < _TAG_LONGEST and s[q] in _TAG_CLOSERS and q + 1 in rest:
                rest.add(p)
                tagged.add(p)
        if p in rest or p in tagged:
            reach = p
        if p in tagged:
            start = p
    return start
# An interview question written without a question mark: `简述 …`, `…的区别`, `…是什么`.
_ASKS_UNMARKED_RE = re.compile(
    r"^(?:请)?(?:简述|简要介绍|介绍|谈谈|谈一谈|说说|说一说|讲讲|讲一讲|讲一下|说一下|解释|比较|对比|描述|阐述|概述|列举|分析)"
    r"|什么|为什么|为何|如何|怎么|怎样|哪些|哪个|哪种|是否|能否|有没有|区别|异同|差异|优缺点"
    r"|\bvs\.?\s|\bversus\b|^(?:what|why|how|explain|compare|describe)\b",
    re.I,
)


def nfkc(s: str) -> str:
    return unicodedata.normalize("NFKC", s)


ANSWER_LABEL = re.compile(  # `A：` / `A1:` / `**答：**` / `**回答**：` / `【答案】` / `- A1: …` opening an answer
    r"^(?:[-*+]\s+)?(?:(?P<b>\*\*|__)(?:A\d{0,3}|答|答案|回答|参考答案|我|候选人)\s*[:：]\s*(?P=b)"
    r"|(?:A\d{0,3}|答|答案|回答|参考答案|我|候选人)\s*[:：]|A\d{1,3}\s*[.．、](?!\d)"
    r"|(?:\*\*|__)(?:A\d{0,3}|答|答案|回答|参考答案|我|候选人)(?:\*\*|__)\s*[:：]"
    r"|【\s*(?:答|答案|回答|参考答案|解答)\s*】\s*[:：]?)\s*",
    re.I,
)
# `### 答` / `**答案**` / `参考答案` alone on the answer's first line, more below it: a label, not
# content (a bare `A` only as a heading or bold: alone it may be the answer to a choice question)
ANSWER_TITLE = re.compile(
    r"^(?:#{1,6}[ \t]+(?:\*\*|__)?(?:A|Answer|答|答案|回答|参考答案|解答)(?:\*\*|__)?[ \t]*#*"
    r"|(?:\*\*|__)(?:A|Answer|答|答案|回答|参考答案|解答)(?:\*\*|__)"
    r"|(?:答|答案|回答|参考答案|解答))[ \t]*\n(?=\s*\S)",
    re.I,
)
_LABEL_ONLY = re.compile(r"^(?:\*\*|__)?(?:A\d{0,3}|Answer|答|答案|回答|参考答案|解答)(?:\*\*|__)?\s*[:：]?$", re.I)


def answer_heading(title: str) -> str | None:
    """A heading's title that labels an answer (`A：缓存 K、V`, `答案`, `**答：**…`) -> the text
    it puts at the answer's head, label and all (the card drops the label, as it does on any
    answer's first line), or "" for a bare `A` / `Answer`; None for any other title."""
    if _LABEL_ONLY.match(title):
        return "" if title.strip("*_:： ").lower() in ("a", "answer") else title
    return title if ANSWER_LABEL.match(title) else None


def only_label(text: str) -> bool:
    """`答案：`, `**答：**`, `【答案】`, `参考答案` and nothing else: an answer still to be written (a
    bare `A` is not: it may answer a choice question)."""
    text = text.strip()
    if _LABEL_ONLY.match(text):
        return text.strip("*_ ").lower() not in ("a", "answer")
    m = ANSWER_LABEL.match(text)
    return m is not None and m.end() == len(text)


_PROBLEM_RE = re.compile(r"^\s*(?:\*\*|__)?问题(?:\*\*|__)?\s*[:：]\s*(?:(?:\*\*|__)\s*)?(?P<rest>\S.*)$")


def problem_label(text: str) -> str | None:
    """`问题：LoRA 的原理` / `**问题**：…` -> its text, whatever it says (the reader takes it for a
    question only when an `答案：` line follows; see `q_label`)."""
    m = _PROBLEM_RE.match(text)
    return m.group("rest").strip() if m else None


def strip_trailing_tags(text: str) -> str:
    """`KV Cache 为什么能加速？（高频）🔥` -> `KV Cache 为什么能加速？`."""
    t = text.rstrip().rstrip("*_ ")
    return t[: _trailing_tags_start(t)].rstrip().rstrip("*_ ").rstrip()


# A blank to fill asks as a question mark does: `…敏感。（ ）` (true or false), `…是 ______。`
_BLANK = re.compile(r"(?:（[ \t\u3000]*）|\([ \t\u3000]+\))[ \t]*$|_{4,}")


def ends_with_question_mark(text: str) -> bool:
    t = strip_trailing_tags(text)
    if t.endswith(("?", "？")) or t.endswith(("吗", "呢")):
        return True
    return ("）" in text or ")" in text or "____" in text) and _BLANK.search(text.rstrip().rstrip("*")) is not None


def asks_unmarked(text: str) -> bool:
    """A numbered line standing alone that asks without a mark (`2、对称量化和非对称量化的区别`,
    `**3. 简述 GQA**`): imperative or interrogative wording, no sentence end, long enough not
    to be an answer's sub-heading (`**1. 原理**`)."""
    if ends_with_question_mark(text):  # (before the tags go: `（ ）` is a blank, not a tag)
        return True
    t = strip_trailing_tags(text)
    t = re.split(r"[：:]\s*", t)[-1]  # `SwiGLU：为什么比 ReLU 好`: what follows the topic asks
    if len(t) < 6 or len(t) > 60 or any(c in t for c in "。；;！!"):
        return False
    return bool(_ASKS_UNMARKED_RE.search(t))


def asks(text: str) -> bool:
    """Does this text read as a question (mark, or interrogative wording)?"""
    t = text.strip()
    return ends_with_question_mark(t) or "？" in t or "?" in t or bool(_ASK_RE.search(t))


def question_score(text: str) -> int:
    """How strongly a numbered line reads as a question rather than a list item in an answer."""
    t = text.strip()
    score = 0
    if ends_with_question_mark(t) or "？" in t or "?" in t:
        score += 2
    if _ASK_RE.search(t):
        score += 1
    if kind_prefix(t)[0]:
        score += 2
    if t.endswith((":", "：")):
        # `1.模型参数:` heads an answer's point; `1.介绍一下PPO:` still asks
        score -= 1 if asks_unmarked(number_prefix(t)[1].rstrip(":： ")) else 3
    if t.endswith("。") and not ("？" in t or "?" in t):
        score -= 1
    if t.startswith(("-", "–", "—", "|")):
        score -= 3
    return score


def kind_prefix(text: str) -> tuple[str | None, str]:
    """`八股：Attention 如何计算？` -> ("八股", "Attention 如何计算？")."""
    m = _KIND_RE.match(text.strip())
    if not m:
        return None, text.strip()
    return m.group("kind") or m.group("bkind"), m.group("rest").strip()


def number_prefix(text: str) -> tuple[str | None, str]:
    """`3.xxx` / `3. xxx` / `1.1 xxx` / `Q3：xxx` -> ("3", "xxx")."""
    m = _NUMBER_RE.match(text.strip())
    if not m:
        return None, text.strip()
    num = m.group("n") or m.group("qn") or m.group("pn")
    return num, m.group("rest").strip()


def labelled_number(text: str) -> bool:
    """`Q07 · 学习率预热`, `题目 3｜KV Cache`, `问题 12 — 位置编码`: numbered as a question."""
    m = _NUMBER_RE.match(text.strip())
    return m is not None and m.group("q") is not None


def strip_leading_emoji(text: str) -> str:
    """`🪤 为什么预热能稳定训练？` -> `为什么预热能稳定训练？`: decoration never reaches the front."""
    k = 0
    while k < len(text) and (_is_emoji(text[k]) or text[k].isspace()):
        k += 1
    return text[k:] if k < len(text) else text


def q_label(text: str) -> str | None:
    """`Q：…` / `问：…` / `面试官：…` / `【问题】…` -> the question text. `问题：` is also "the
    problem:" (`问题：显存按最大长度预分配，产生两种浪费：`): after it the text must ask."""
    labelled = q_label_numbered(text)
    return None if labelled is None else labelled[1]


def q_label_numbered(text: str) -> tuple[str | None, str] | None:
    """`q_label`, with the number the label carries (`Q3：…`, `【问题 2】…` -> "3", "2")."""
    m = _QLABEL_RE.match(text.strip())
    if m is None:
        return None
    rest = m.group("rest").strip()
    if m.group("label") == "问题" and not asks(rest):
        return None
    return (m.group("n") or m.group("bn") or m.group("dn") or None), rest


def bold_lead(text: str) -> tuple[str, str] | None:
    """`**问题？** 答案` -> ("问题？", "答案"); None when the line does not start bold."""
    t = text.strip()
    mark = t[:1]
    if mark not in ("*", "_") or not t.startswith(mark * 2):
        return None
    # `**inner**rest`: the inner part holds no star (`__…__`: no underscore) and is not empty;
    # found by hand, as `^\*\*([^*]+?)\s*\*\*(.*)$` starts again at every space of a long run
    close = t.find(mark, 2)
    if close <= 2 or not t.startswith(mark * 2, close) or "\n" in t[close + 2 :]:
        return None
    inner = t[2 : 2 + max(1, len(t[2:close].rstrip()))]
    return inner.strip(), t[close + 2 :].strip()


@dataclass(frozen=True, slots=True)
class QuestionMark:
    """What a rule found: the question text (without number/prefix) and its labels."""

    question: str
    number: str | None
    kind: str | None
    answer_head: str = ""  # answer text written on the same line as the question
    rule: str = ""


_CHECKBOX = re.compile(r"^\[[ xX]\]\s+")  # a task list item's box: `- [ ] …`, `- [x] …`


def split_question(text: str) -> tuple[str | None, str | None, str]:
    """Peel a task box, a number and a kind prefix off a question line (number and kind in
    either order)."""
    t = _CHECKBOX.sub("", text.strip())
    num, rest = number_prefix(t)
    kind, rest = kind_prefix(rest)
    if num is None and kind is not None:
        num2, rest2 = number_prefix(rest)
        if num2 is not None:
            num, rest = num2, rest2
    ql = q_label(rest)
    if ql is not None:
        rest = ql
    return num, kind, rest


def rule_kind_prefixed(text: str) -> QuestionMark | None:
    num, rest = number_prefix(text)
    kind, q = kind_prefix(rest)
    if kind is None:
        return None
    return QuestionMark(q, num, kind, rule="kind-prefix")


def rule_q_label(text: str) -> QuestionMark | None:
    labelled = q_label_numbered(text)
    if labelled is None:
        return None
    num, q = labelled
    kind, q2 = kind_prefix(q)
    return QuestionMark(q2, num, kind, rule="q-label")


LEADING_BREAKS = re.compile(r"^(?:\s*<br\s*/?>)+\s*", re.I)  # `**Q：…？**<br>` ends the line twice


def rule_bold_question(text: str) -> QuestionMark | None:
    """`**…？**` alone, `**Q：…？** answer`, `**面试官：…**`."""
    lead = bold_lead(text)
    if lead is None:
        return None
    inner, rest = lead
    rest = LEADING_BREAKS.sub("", rest)
    if _QWORD_RE.match(inner) and rest:
        # `**问：** LoRA 的秩怎么选？` / `**问题**：…`: the bold part is only the label
        rest = rest.lstrip(":： ")
        if inner.rstrip(":： ") == "问题" and not asks(rest):
            return None  # `**问题**：…产生两种浪费：`, "the problem"
        num, kind, q = split_question(rest)
        return QuestionMark(q, num, kind, rule="bold-q-label")
    if rest[:1] in ("？", "?") and not ends_with_question_mark(inner):
        inner, rest = inner + rest[0], rest[1:].strip()  # `**为什么要 warmup**？`: the mark is the question's
    note = ""
    if not strip_trailing_tags(rest):
        # `**…？** 🔥`: a decoration, no answer; `**…？**（常考）`: a note the front keeps
        note = rest.strip() if rest.strip()[:1] in _TAG_OPENERS else ""
        rest = ""
    numbered = q_label_numbered(inner)
    if numbered is not None:
        num, kind, q = split_question(numbered[1])
        return QuestionMark(_noted(q, note), num or numbered[0], kind, answer_head=rest, rule="bold-q")
    if not ends_with_question_mark(inner):
        return None
    num, kind, q = split_question(inner)
    return QuestionMark(_noted(q, note), num, kind, answer_head=rest, rule="bold-q")


def _noted(question: str, note: str) -> str:
    return f"{question}{note}" if note else question


def bold_only(text: str) -> tuple[str, str] | None:
    """A line that is wholly bold, perhaps with a note after it (`**什么是梯度裁剪**（常考）`, `**X**？`):
    (the bold text with its mark and note, the note) — or None."""
    lead = bold_lead(text)
    if lead is None or "\n" in text:
        return None
    inner, rest = lead
    if rest[:1] in ("？", "?"):
        inner, rest = inner + rest[0], rest[1:].strip()
    if strip_trailing_tags(rest):
        return None
    note = rest.strip() if rest.strip()[:1] in _TAG_OPENERS else ""
    return _noted(inner, note), note


def rule_numbered_unmarked(text: str) -> QuestionMark | None:
    """`2、对称量化和非对称量化的区别` / `**2. 简述 MHA 与 GQA 的区别**` alone on its line: a
    numbered question without a mark. Not in `LINE_RULES`: the Markdown reader applies it only
    to a paragraph of one line outside a heading question's answer."""
    lead = bold_lead(text)
    if lead is not None:
        if lead[1] and strip_trailing_tags(lead[1]):
            return None
        text = lead[0]
    num, kind, q = split_question(text)
    if num is None or not asks_unmarked(q):
        return None
    return QuestionMark(q, num, kind, rule="numbered-unmarked")


_TASK_RE = re.compile(r"^(?:请)?(?:设计一个|设计一套|手撕)")  # `实现一个…` is as often a tutorial's goal


def rule_bold_task(text: str) -> QuestionMark | None:
    """`**设计一个企业知识库问答系统**：从文档接入、切分…` in a list of interview questions: the bold
    part sets a task (设计一个… / 手撕…), what follows the colon answers it. Only for list
    items (a bold lead in a paragraph is an answer's own emphasis)."""
    lead = bold_lead(text)
    if lead is None or not lead[1].startswith((":", "：")):
        return None
    inner = lead[0].rstrip(":： ")
    if not (_TASK_RE.match(inner) and len(inner) >= 6):
        return None  # `**数据怎么进来**：…` is a list of points, a task is `**设计一个…**`
    num, kind, q = split_question(inner)
    return QuestionMark(q, num, kind, answer_head=lead[1].lstrip(":： "), rule="bold-task")


_CALLOUT_Q_RE = re.compile(r"^\[!(?:question|faq|help)\][-+]?[ \t]+(?P<title>\S.*)$", re.I)


def callout_question(first_line: str) -> str | None:
    """`> [!question] RAG 的流程是什么？` (Obsidian): the callout's title is the question."""
    m = _CALLOUT_Q_RE.match(first_line.strip())
    return m.group("title").strip() if m else None


# Logseq's block properties (`id:: …`, `collapsed:: true`): bookkeeping, not cards or content.
LOGSEQ_KEYS = (
    r"id|collapsed|heading|tags|alias|title|icon|template|public|filters|background-color|"
    r"created-at|updated-at|card-[a-z-]+|query-[a-z-]+"
)
_LOGSEQ_KEY = re.compile(LOGSEQ_KEYS)
_FLASHCARD_RE = re.compile(r"^(?P<q>[^`]*?\S)\s*:{2,3}\s*(?P<a>\S.*)$")


def rule_flashcard(text: str) -> QuestionMark | None:
    """`问题::答案` (also `:::`), the one-line cards of Obsidian's Spaced Repetition plugin.

    Not `std::vector` or `a::b`: a `::` between two ASCII word characters is code, and so is
    anything after a backtick."""
    if "::" not in text or "://" in text:
        return None
    m = _FLASHCARD_RE.match(text.strip())
    if m is None:
        return None
    q, a = m.group("q"), m.group("a")
    if (q[-1].isascii() and (q[-1].isalnum() or q[-1] == "_")) and (a[0].isascii() and (a[0].isalnum() or a[0] == "_")):
        return None
    if len(q) < 2 or q.startswith(("#", ">", "|", ":")) or _LOGSEQ_KEY.fullmatch(q):
        return None  # `collapsed:: true`, `tags:: 面试`: Logseq properties
    num, kind, question = split_question(q)
    return QuestionMark(question, num, kind, answer_head=a, rule="flashcard")


LineRule = Callable[[str], "QuestionMark | None"]

# Order matters: the first rule that matches a line wins.
LINE_RULES: tuple[tuple[str, LineRule], ...] = (
    ("bold-question", rule_bold_question),
    ("kind-prefix", rule_kind_prefixed),
    ("q-label", rule_q_label),
    ("flashcard", rule_flashcard),
)


_LABEL_WORD = re.compile(r"^(?:\*\*|__)?\s*(?:【\s*)?(Q|问题|问|面试官|Question)", re.I)


def label_form(text: str, mark: QuestionMark) -> str | None:
    """How a labelled question line is written (`q-label Q`, `bold-q 问`, `bold-q`), for telling a
    run of lines of one form; None for a question found otherwise (a kind prefix, a number)."""
    if mark.rule not in ("q-label", "bold-q", "bold-q-label"):
        return None
    m = _LABEL_WORD.match(text.strip())
    return f"{mark.rule} {m.group(1).lower() if m else ''}"


def match_line(text: str) -> QuestionMark | None:
    for _name, rule in LINE_RULES:
        mark = rule(text)
        if mark is not None and mark.question:
            return mark
    return None


# --- references to other questions ---

REFERENCE_RE = re.compile(
    r"^(?:(?P<verb>同|见|参考|参见|详见|答案见|参照)\s*[:：]?\s*)?(?P<section>[^\s,，第:/]*?)\s*"
    r"(?:第\s*(?P<n1>\d+)\s*题|问题\s*(?P<n2>\d+)|[Qq](?P<n4>\d+)|(?P<n3>\d+(?:\.\d+)*)\s*(?:题|节|小节)?)\s*[。.]?$"
)


def parse_reference(answer: str) -> tuple[str, str] | None:
    """`见模板2 第5题` / `同 3.2` / `参考 模板1 问题4` / `同模板2 Q4` / `参考 2.4 节`, and without a
    verb when both a section and a question label are there (`模板2 问题4`) -> (section, number);
    `同上` -> ("", "^"), the question before it."""
    lines = [ln.strip() for ln in answer.strip().splitlines() if ln.strip()]
    if len(lines) != 1:
        return None
    if lines[0].rstrip("。.") in ("同上", "答案同上", "同上题", "见上", "见上题", "答案见上", "同前", "参见上题", "参考上题"):
        return "", "^"
    m = REFERENCE_RE.match(nfkc(lines[0]))
    if not m:
        return None
    labelled = m.group("n1") or m.group("n2") or m.group("n4")
    if m.group("verb") is None and not (m.group("section") and labelled):
        return None  # `2.4` alone, `模板2 3`: a number is no reference without a word that says so
    num = labelled or m.group("n3") or ""
    return m.group("section") or "", num


# a list item in flat text or Markdown: `-`, `*`, `•`, `1.`, `1)`, `1、`
LIST_START = re.compile(r"^\s*(?:[-*+•]|\d+[.)．、])")
