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

_TAG_LINE = re.compile(r"^([ \t>]*)\{%-?\s*(\w+)\s*(.*?)\s*-?%\}\s*$")
_INLINE_TAG = re.compile(r"\{%-?\s*(asset_img|asset_image|img|image|link)\s+(.*?)\s*-?%\}")
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
        if m and m.group(2).lower() in _CODE_TAGS:
            lines[i] = m.group(1) + "```" + _language(m.group(2).lower(), m.group(3))
        elif m and m.group(2).lower() in _CODE_ENDS:
            lines[i] = m.group(1) + "```"
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
        name = m.group(2).lower() if m else ""
        if code and name not in ("raw", "endraw"):  # `{% raw %}` shows Liquid inside Jekyll code
            out.append("> " + line if quote else line)
            continue
        if m is None:
            if _ATTRIBUTE_LINE.match(line):
                continue
            line = _INLINE_TAG.sub(lambda t: _inline(t.group(1), t.group(2), post_stem), line)
            out.append("> " + line if quote else line)
            continue
        lead, args = m.group(1), m.group(3)
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
            line = _INLINE_TAG.sub(lambda t: _inline(t.group(1), t.group(2), post_stem), line)
            out.append("> " + line if quote else line)
    return "\n".join(out)


def _scan(lines: list[str]) -> Iterator[tuple[str, re.Match[str] | None, bool]]:
    """Each line, its tag (a line that is one `{% … %}`) and whether it is code: inside a
    Markdown fence, or between a code tag and its end tag (the tag lines themselves are not)."""
    fence = ""  # the open Markdown fence
    awaited = ""  # the end tag an open code tag waits for
    for line in lines:
        m = _TAG_LINE.match(line)
        if awaited:
            if m and m.group(2).lower() == awaited:
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
        if m and m.group(2).lower() in _CODE_TAGS:
            awaited = _CODE_TAGS[m.group(2).lower()]
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
