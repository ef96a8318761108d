"""Hexo tag plugins (`{% note %}`, `{% codeblock %}`, `{% asset_img %}`, …) read as Markdown.

A Hexo blog's posts are Markdown with template tags the blog renders. Two steps use them:

- `block_view()` gives the reader a line-for-line copy in which a `{% codeblock %}` is a fenced
  block, so a `# comment` inside code is never taken for a heading (line numbers unchanged).
- `to_markdown()` turns the tags of one answer into the Markdown our renderers know: notes and
  folds become callout boxes, code blocks fences, `asset_img` / `img` images, `link` links,
  `blockquote` a quote; `raw` shows its content. Other tags stay visible as written.
"""

from __future__ import annotations

import re
import shlex

_TAG_LINE = re.compile(r"^([ \t>]*)\{%-?\s*(\w+)\s*(.*?)\s*-?%\}\s*$")
_INLINE_TAG = re.compile(r"\{%-?\s*(asset_img|asset_image|img|image|link)\s+(.*?)\s*-?%\}")
# Boxes of the Hexo core and of the common themes (NexT, Butterfly, Volantis, Fluid, Stellar).
_BOXES = {
    "note": "note", "noteblock": "note", "alert": "warning", "fold": "details", "folding": "details",
    "hidetoggle": "details", "hideblock": "details", "details": "details", "callout": "note",
}
_NOTE_KINDS = {"info": "info", "warning": "warning", "danger": "danger", "success": "success",
               "primary": "note", "default": "note", "tip": "tip", "error": "danger", "important": "important"}


def has_tags(text: str) -> bool:
    return "{%" in text


def block_view(text: str) -> str:
    """`text` with `{% codeblock %}` / `{% endcodeblock %}` lines as code fences (same lines)."""
    if "{%" not in text:
        return text
    lines = text.split("\n")
    for i, line in enumerate(lines):
        m = _TAG_LINE.match(line)
        if m and m.group(2).lower() in ("codeblock", "code"):
            lines[i] = m.group(1) + "```" + _language(m.group(3))
        elif m and m.group(2).lower() in ("endcodeblock", "endcode"):
            lines[i] = m.group(1) + "```"
    return "\n".join(lines)


def to_markdown(text: str, post_stem: str) -> str:
    """One answer's Hexo tags as Markdown; `post_stem` names the post's asset folder."""
    if "{%" not in text:
        return text
    out: list[str] = []
    quote = 0  # open `{% blockquote %}`s: their lines get `> `
    for line in text.split("\n"):
        m = _TAG_LINE.match(line)
        if m is None:
            line = _INLINE_TAG.sub(lambda t: _inline(t.group(1), t.group(2), post_stem), line)
            out.append("> " + line if quote else line)
            continue
        lead, name, args = m.group(1), m.group(2).lower(), m.group(3)
        if name in ("codeblock", "code"):
            out.append(f"{lead}```{_language(args)}")
        elif name in ("endcodeblock", "endcode"):
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


def _words(args: str) -> list[str]:
    try:
        return shlex.split(args)
    except ValueError:
        return args.split()


def _language(args: str) -> str:
    for word in _words(args):
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
