"""Code blocks as a card shows them: Pygments highlighting into CSS classes, light and night.

Shared by both Markdown renderers in `render.py`, so a code block looks the same whichever ran.
"""

from __future__ import annotations

import functools
import html
from typing import Any

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

LIGHT_CODE_STYLE = "default"
NIGHT_CODE_STYLE = "github-dark"
_FORMATTER = HtmlFormatter(cssclass="highlight")


@functools.lru_cache(maxsize=4096)
def code_box(info: str, code: str) -> str:
    """A fenced block: ```math is display math, a known language is highlighted by Pygments,
    anything else is a plain box. The result is safe HTML (Pygments escapes the code).
    Kept per (info, code) within a process: the same snippet is highlighted once."""
    lang = info.strip().split()[0].lower() if info.strip() else ""
    if lang == "math":
        # GitHub / GitLab display math: a ```math fence is one formula
        return f'<div class="math display">\\[{html.escape(code.strip(), quote=False)}\\]</div>\n'
    lexer = _lexer(lang) if lang and lang not in ("text", "txt", "plain") else None
    if lexer is not None:
        return str(highlight(code, lexer, _FORMATTER))
    return f'<div class="highlight"><pre><code>{html.escape(code)}</code></pre></div>\n'


@functools.lru_cache(maxsize=256)
def _lexer(lang: str) -> Any:
    """Pygments looks lexers up through its plugin registry, slowly: once per language is enough."""
    try:
        return get_lexer_by_name(lang)
    except ClassNotFound:
        return None


def code_css() -> str:
    """Token colours for light cards and for Anki's night mode (`.nightMode` on body), as shipped
    in templates/code.css: the note type stays byte-for-byte the same whatever Pygments release
    is installed (a new release's colours would otherwise make Anki re-import the note type).

    Only token rules: the code box's own background and padding come from card.css.
    """
    from importlib import resources

    return resources.files("bagu2anki.templates").joinpath("code.css").read_text(encoding="utf-8").rstrip("\n")


def generate_code_css() -> str:
    """templates/code.css from the installed Pygments: `python -m bagu2anki.code > templates/code.css`."""
    rules = [_token_rules(LIGHT_CODE_STYLE, ".highlight")]
    for night in (".nightMode", ".night_mode"):
        rules.append(_token_rules(NIGHT_CODE_STYLE, f"{night} .highlight"))
    return "\n".join(rules)


def _token_rules(style: str, scope: str) -> str:
    defs = HtmlFormatter(style=style).get_style_defs(scope)
    keep = [line for line in defs.splitlines() if line.startswith(scope + " .") and "linenos" not in line]
    return "\n".join(keep)


if __name__ == "__main__":  # pragma: no cover
    print(generate_code_css())
