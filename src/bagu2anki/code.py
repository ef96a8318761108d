"""Code blocks as a card shows them: Pygments highlighting into CSS classes, light and night.

Shared by both Markdown renderers in `render.py`, so a code block looks the same whichever ran.
Highlighting is most of what rendering an answer costs, so each (language, code) is highlighted
once per process and kept; `recording()` tells the caller which blocks an answer used, so the
build cache can keep them too (`cards.render_answers`) and hand them back with `remember()`.
"""

from __future__ import annotations

import contextlib
import functools
import html
from collections.abc import Iterable, Iterator
from typing import Any

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

LIGHT_CODE_STYLE = "default"
NIGHT_CODE_STYLE = "github-dark"
_FORMATTER = HtmlFormatter(cssclass="highlight")

CodeBlock = tuple[str, str, str]
"""(language, code, highlighted HTML)."""
_KNOWN: dict[tuple[str, str], str] = {}
"""(language, code) -> HTML: what this process highlighted or was told (`remember`)."""
_KNOWN_LIMIT = 20_000  # then forgotten all at once (a long `watch` session sees many versions)
_RECORDING: list[list[CodeBlock]] = []


def code_box(info: str, code: str) -> str:
    """A fenced block: ```math is display math, a known language is highlighted by Pygments,
    anything else is a plain box. The result is safe HTML (Pygments escapes the code)."""
    lang = info.strip().split()[0].lower() if info.strip() else ""
    if lang == "math":
        # GitHub / GitLab display math: a ```math fence is one formula
        return f'<div class="math display">\\[{html.escape(code.strip(), quote=False)}\\]</div>\n'
    lexer = _lexer(lang) if lang and lang not in ("text", "txt", "plain") else None
    if lexer is None:
        return f'<div class="highlight"><pre><code>{html.escape(code)}</code></pre></div>\n'
    out = _KNOWN.get((lang, code))
    if out is None:
        out = str(highlight(code, lexer, _FORMATTER))
        if len(_KNOWN) >= _KNOWN_LIMIT:
            _KNOWN.clear()
        _KNOWN[(lang, code)] = out
    if _RECORDING:
        _RECORDING[-1].append((lang, code, out))
    return out


def remember(blocks: Iterable[CodeBlock]) -> None:
    """Highlighted blocks from elsewhere (the build cache): not highlighted again here."""
    for lang, code, out in blocks:
        if len(_KNOWN) >= _KNOWN_LIMIT:
            break
        _KNOWN[(lang, code)] = out


@contextlib.contextmanager
def recording() -> Iterator[list[CodeBlock]]:
    """The highlighted blocks used inside the `with` (highlighted now or known before)."""
    blocks: list[CodeBlock] = []
    _RECORDING.append(blocks)
    try:
        yield blocks
    finally:
        _RECORDING.pop()


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
