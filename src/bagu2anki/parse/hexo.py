"""Blog template tags read as Markdown: Hexo tag plugins (`{% note %}`, `{% codeblock %}`,
`{% asset_img %}`, …), Jekyll's `{% highlight %}` and kramdown's `{: .class}` attribute lines.

A Hexo or Jekyll blog's posts are Markdown with template tags the blog renders. Two steps use them:

- `block_view()` gives the reader a line-for-line copy in which a `{% codeblock %}` or
  `{% highlight %}` is a fenced block, so a `# comment` inside code is never taken for a heading,
  and an attribute line is blank (line numbers unchanged).
- `to_markdown()` turns the tags of one answer into the Markdown our renderers know: notes and
  folds become callout boxes, code blocks fences, `asset_img` / `img` images, `link` links,
  `blockquote` a quote; `raw` shows its content; attribute lines go. Other tags stay visible as
  written. Inside code (a fence or a code tag) nothing is read as a tag.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from typing import NamedTuple

# A line that is one tag: `{% name args %}` (`{%-` / `-%}` too) after `[ \t>]*`; an inline tag names
# an image or a link. Both are read by hand past the name (see `_tag_line`): the one regular
# expression `\{%-?\s*(\w+)\s*(.*?)\s*-?%\}\s*$` takes cubic time on a line of spaces.
_TAG_HEAD = re.compile(r"([ \t>]*)\{%-?\s*(\w+)")
_INLINE_HEAD = re.compile(r"\{%-?\s*(asset_img|asset_image|img|image|link)\s+")


class Tag(NamedTuple):
    lead: str  # what stands before the tag: indentation, `>` of a quote
    name: str
    args: str


def _tag_args(between: str) -> str:
    """The arguments of a tag from what stands between its name and its `%}`: without the white
    space around them or the `-` of a `-%}`."""
    between = between.lstrip()
    return between[:-1].rstrip() if between.endswith("-") else between.rstrip()


def _tag_line(line: str) -> Tag | None:
    """The tag a line is made of (nothing but white space after its `%}`), or None."""
    m = _TAG_HEAD.match(line)
    if m is None:
        return None
    end = line.rstrip()
    if not end.endswith("%}") or len(end) - 2 < m.end():
        return None
    return Tag(m.group(1), m.group(2), _tag_args(end[m.end() : -2]))


def _inline_tags(line: str, post_stem: str) -> str:
    """Image and link tags inside a line as Markdown; each tag ends at the first `%}` after it."""
    if "{%" not in line:
        return line
    out: list[str] = []
    pos = 0
    while (m := _INLINE_HEAD.search(line, pos)) is not None:
        close = line.find("%}", m.end())
        if close == -1:
            break  # no tag closes after this one, nor after any later one
        out.append(line[pos : m.start()])
        out.append(_inline(m.group(1), _tag_args(line[m.end() : close]), post_stem))
        pos = close + 2
    out.append(line[pos:])
    return "".join(out)
# kramdown block attribute lists (`{: .notice--info}`, `{:toc}`, `{:.no_toc}`, `{:ref: #id}`):
# styling for the blog, nothing a card shows. `{::comment}` and other extensions are not these.
_ATTRIBUTE_LINE = re.compile(r"^([ \t>]*)\{:(?![:/])[^{}\n]*\}[ \t]*$")
_FENCE = re.compile(r"^[ \t>]*(`{3,}|~{3,})")
# Code tags and the tag that ends each: Hexo's `codeblock` (alias `code`), Jekyll's `highlight`.
_CODE_TAGS = {"codeblock": "endcodeblock", "code": "endcode", "highlight": "endhighlight"}
_CODE_ENDS = set(_CODE_TAGS.values())
# Boxes of the Hexo core and of the common themes (NexT, Butterfly, Volantis, Fluid, Stellar).
_BOXES = {
    "note": "note", "noteblock": "note", "alert": "warning", "fold": "details", "folding": "details",
    "hidetoggle": "details", "hideblock": "details", "details": "details", "callout": "note",
}
_NOTE_KINDS = {"info": "info", "warning": "warning", "danger": "danger", "success": "success",
               "primary": "note", "default": "note", "tip": "tip", "error": "danger", "important": "important"}


def has_tags(text: str) -> bool:
    return "{%" in text or "{:" in text


def block_view(text: str) -> str:
    """`text` with code tags as code fences and attribute lines blank (same lines)."""
    if not has_tags(text):
        return text
    lines = text.split("\n")
    for i, (line, m, code) in enumerate(_scan(lines)):
        if code:
            continue
        if m and m.name.lower() in _CODE_TAGS:
            lines[i] = m.lead + "```" + _language(m.name.lower(), m.args)
        elif m and m.name.lower() in _CODE_ENDS:
            lines[i] = m.lead + "```"
        elif (a := _ATTRIBUTE_LINE.match(line)) is not None:
            lines[i] = a.group(1).rstrip()
    return "\n".join(lines)


def to_markdown(text: str, post_stem: str) -> str:
    """One answer's tags as Markdown; `post_stem` names the post's asset folder."""
    if not has_tags(text):
        return text
    out: list[str] = []
    quote = 0  # open `{% blockquote %}`s: their lines get `> `
    for line, m, code in _scan(text.split("\n")):
        name = m.name.lower() if m else ""
        if code and name not in ("raw", "endraw"):  # `{% raw %}` shows Liquid inside Jekyll code
            out.append("> " + line if quote else line)
            continue
        if m is None:
            if _ATTRIBUTE_LINE.match(line):
                continue
            line = _inline_tags(line, post_stem)
            out.append("> " + line if quote else line)
            continue
        lead, args = m.lead, m.args
        if name in _CODE_TAGS:
            out.append(f"{lead}```{_language(name, args)}")
        elif name in _CODE_ENDS:
            out.append(f"{lead}```")
        elif name in _BOXES:
            out.append(f"{lead}{_box_open(name, args)}")
        elif name.startswith("end") and name[3:] in _BOXES:
            out.append(f"{lead}:::")
        elif name == "blockquote":
            quote += 1
        elif name == "endblockquote":
            quote = max(0, quote - 1)
        elif name in ("raw", "endraw"):
            continue
        else:
            line = _inline_tags(line, post_stem)
            out.append("> " + line if quote else line)
    return "\n".join(out)


def _scan(lines: list[str]) -> Iterator[tuple[str, Tag | None, bool]]:
    """Each line, its tag (a line that is one `{% … %}`) and whether it is code: inside a
    Markdown fence, or between a code tag and its end tag (the tag lines themselves are not)."""
    fence = ""  # the open Markdown fence
    awaited = ""  # the end tag an open code tag waits for
    for line in lines:
        m = _tag_line(line) if "{%" in line else None
        if awaited:
            if m and m.name.lower() == awaited:
                awaited = ""
                yield line, m, False
            else:
                yield line, m, True
            continue
        if fence:
            f = _FENCE.match(line)
            if f and f.group(1)[0] == fence[0] and len(f.group(1)) >= len(fence) and not line[f.end() :].strip():
                fence = ""
            yield line, m, True
            continue
        if (f := _FENCE.match(line)) is not None:
            fence = f.group(1)
            yield line, m, True
            continue
        if m and m.name.lower() in _CODE_TAGS:
            awaited = _CODE_TAGS[m.name.lower()]
        yield line, m, False


def _words(args: str) -> list[str]:
    try:
        return shlex.split(args)
    except ValueError:
        return args.split()


def _language(tag: str, args: str) -> str:
    words = _words(args)
    if tag == "highlight":
        # Jekyll: `{% highlight python linenos %}`, the language first, then options
        return words[0] if words and "=" not in words[0] else ""
    for word in words:
        if word.startswith("lang:"):
            return word[5:]
    return ""


def _box_open(name: str, args: str) -> str:
    words = _words(args)
    kind = _BOXES[name]
    if name in ("note", "noteblock", "alert", "callout") and words and words[0].lower() in _NOTE_KINDS:
        kind = _NOTE_KINDS[words.pop(0).lower()]
        if words and words[0] in ("flat", "simple", "modern", "disabled", "no-icon"):
            words.pop(0)
    title = " ".join(w for w in words if "=" not in w and not w.startswith(("color:", "icon:")))
    return f"::: {kind} {title}".rstrip()


def _inline(name: str, args: str, post_stem: str) -> str:
    words = _words(args)
    if not words:
        return ""
    if name in ("asset_img", "asset_image"):
        # `{% asset_img slug [title] %}`: the file sits in the post's asset folder
        slug, title = words[0], " ".join(words[1:])
        return f"![{title}](<{post_stem}/{slug}>)"
    if name in ("img", "image"):
        # `{% img [class] src [width] [height] [title [alt]] %}`
        src_at = next((k for k, w in enumerate(words) if "/" in w or "." in w), 0)
        rest = [w for w in words[src_at + 1 :] if not w.isdigit()]
        return f"![{' '.join(rest)}](<{words[src_at]}>)"
    # `{% link text url [external] [title] %}`
    url_at = next((k for k, w in enumerate(words) if re.match(r"^(?:https?:|/)", w)), len(words) - 1)
    label = " ".join(words[:url_at]) or words[url_at]
    return f"[{label}]({words[url_at]})"
