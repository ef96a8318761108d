"""The documentation keeps up with the code: every option is in docs/cli.md under its command,
every relative link and image resolves, and the README stays short with its two commands."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import click
import pytest
from conftest import ROOT

from bagu2anki.cli import main

CLI_DOC = ROOT / "docs" / "cli.md"
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
EXEMPT = {"--help", "--version"}

# [text](target) and ![alt](target "title"), <img src="...">, <a href="...">
_MD_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HTML_LINK = re.compile(r"""<(?:img|a)\b[^>]*?\b(?:src|href)=["']([^"']+)["']""", re.I)
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
_CODE_SPAN = re.compile(r"`[^`\n]*`")


def _commands(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    for name, cmd in sorted(group.commands.items()):
        full = f"{prefix} {name}".strip()
        yield full, cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, full)


def _section(text: str, name: str) -> str | None:
    """The text between `## bagu2anki <name>` and the next `## ` heading."""
    m = re.search(rf"^## bagu2anki {re.escape(name)}[ \t]*$", text, re.M)
    if m is None:
        return None
    rest = text[m.end():]
    nxt = re.search(r"^## ", rest, re.M)
    return rest[: nxt.start()] if nxt else rest


def _long_flags(cmd: click.Command) -> list[str]:
    flags: list[str] = []
    for param in cmd.params:
        if isinstance(param, click.Option):
            flags += [f for f in (*param.opts, *param.secondary_opts) if f.startswith("--")]
    return [f for f in flags if f not in EXEMPT]


COMMANDS = list(_commands(main))


def test_command_tree_is_walked() -> None:
    names = {name for name, _ in COMMANDS}
    assert {"build", "check", "export", "export atoms", "export graph"} <= names


@pytest.mark.parametrize(("name", "cmd"), COMMANDS, ids=[name for name, _ in COMMANDS])
def test_every_option_is_documented_under_its_command(name: str, cmd: click.Command) -> None:
    flags = _long_flags(cmd)
    if not flags:
        return  # a group with nothing but --help (`export`)
    text = CLI_DOC.read_text(encoding="utf-8")
    section = _section(text, name)
    assert section is not None, f"docs/cli.md has no '## bagu2anki {name}' heading"
    missing = [f for f in flags if not re.search(rf"{re.escape(f)}(?![\w-])", section)]
    assert not missing, f"docs/cli.md, '## bagu2anki {name}': options not documented: {missing}"


def _targets(text: str) -> Iterator[str]:
    text = _FENCE.sub("", text)
    text = _CODE_SPAN.sub("", text)
    for regex in (_MD_LINK, _HTML_LINK):
        for m in regex.finditer(text):
            yield m.group(1)


def test_pages_exist() -> None:
    names = {p.name for p in PAGES}
    assert {"cli.md", "reading.md", "outputs.md", "performance.md", "limits.md", "development.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in _targets(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            continue  # http(s), mailto: and anchors on the same page
        path = unquote(target.split("#", 1)[0].split("?", 1)[0])
        if not (page.parent / path).exists():
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)}: links to missing files: {broken}"


def test_readme_links_every_docs_page() -> None:
    text = README.read_text(encoding="utf-8")
    linked = {(ROOT / t.split("#", 1)[0]).resolve() for t in _targets(text)}
    missing = [p.name for p in PAGES[1:] if p.resolve() not in linked]
    assert not missing, f"README.md does not link docs pages: {missing}"


def test_readme_is_short_and_has_both_commands() -> None:
    data = README.read_bytes()
    assert len(data) <= 9000, f"README.md is {len(data)} bytes; keep it under 9000 (details go in docs/)"
    text = data.decode("utf-8")
    assert "pip install . && bagu2anki build" in text
    assert "bash scripts/test.sh" in text
