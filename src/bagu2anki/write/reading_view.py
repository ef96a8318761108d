"""How a file was read (`show.Reading`) -> one standalone, offline HTML page.

`bagu2anki show FILE --html OUT.html` writes one; `build` writes one per note file into
`OUT/reading/` and `report.md` links each file to its page. The page is the file line by line,
a coloured gutter (role letter and line number, each line an anchor `#L12`) and a legend. It
has no script: every text from the notes is escaped (the file's name by Jinja2's autoescape, the
lines by `_lines_html` as autoescape would), and a Content-Security-Policy allows nothing but
its own inline style (by hash).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import json
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import jinja2
from markupsafe import Markup, escape

from bagu2anki import __version__, sources
from bagu2anki.diagnostics import Diagnostics
from bagu2anki.model import Document, Format
from bagu2anki.show import (
    LABEL,
    MARK,
    ROLES,
    Reading,
    file_lines,
    question_counts,
    roles_of,
    summary_of,
)
from bagu2anki.write.page_assets import FONT_STACK_CSS, environment

TEMPLATE_NAME = "reading.html.j2"
PAGES_FOLDER = "reading"
"""The build's reading pages: `OUT/reading/<page>.html`, one per note file."""
MAX_NAME_BYTES = 120  # a page's name, before `.html`: well under the 255 bytes a name may take


@functools.cache
def _template_source() -> str:
    try:
        return (
            importlib.resources.files("bagu2anki.templates")
            .joinpath(TEMPLATE_NAME)
            .read_text(encoding="utf-8")
        )
    except ModuleNotFoundError:  # a checkout without the package installed
        return (Path(__file__).resolve().parents[3] / "templates" / TEMPLATE_NAME).read_text(
            encoding="utf-8"
        )


@functools.cache
def _template() -> jinja2.Template:
    return environment().from_string(_template_source())


def render_reading(reading: Reading, title: str | None = None, note: str = "") -> str:
    """The page for `reading`; `title` is the name shown (default: the file's path as read),
    `note` a line said above the lines (a file that could not be read again)."""
    lines = _lines_html(
        [ln.number for ln in reading.lines],
        [ln.role for ln in reading.lines],
        [ln.text for ln in reading.lines],
    )
    return _render(title or reading.rel, reading.format, reading.summary(), note, lines)


def _render(title: str, fmt: Format, summary: str, note: str, lines: Markup) -> str:
    return _template().render(
        title=title,
        markdown=fmt == "markdown",
        summary=summary,
        note=note,
        lines=lines,
        roles=ROLES,
        mark=MARK,
        label=LABEL,
        font_stack=Markup(FONT_STACK_CSS),  # trusted: quoted as CSS, not as HTML
    )


_BLANK_ROW = '<div id="L%s"><span>%s</span></div>\n'


def _row(role: str) -> str:
    """The `%` pattern of a line with `role`: its number twice, then its escaped text."""
    shown = str(escape(role)).replace("%", "%%")
    return f'<div id="L%s" class="{shown}"><span>%s</span><p>%s</p></div>\n'


def _lines_html(
    numbers: Sequence[int], roles: Sequence[str | None], texts: Sequence[str]
) -> Markup:
    """The lines of a page, each a `<div>`: what a Jinja2 loop over them would make, autoescape
    and all, at a fraction of the cost (a template yields and escapes each piece on its own,
    and a file has thousands of lines).

    A line's text is escaped as autoescape escapes it (`markupsafe.escape`); a file's lines hold
    no line feed, so they are escaped all at once, joined by one, and split again."""
    joined = "\n".join(texts)
    if texts and joined.count("\n") == len(texts) - 1:
        escaped = str(escape(joined)).split("\n")
    else:  # none, or a line holding a line feed: one at a time
        escaped = [str(escape(t)) for t in texts]
    rows = {role: _row(role) for role in set(roles) if role}
    return Markup(
        "".join(
            [
                rows[role] % (n, n, text) if role else _BLANK_ROW % (n, n)
                for n, role, text in zip(numbers, roles, escaped, strict=True)
            ]
        )
    )


def write_reading(path: Path, reading: Reading, title: str | None = None, note: str = "") -> None:
    """Write the page whole or not at all (through `path.part`)."""
    _write(path, _bytes(render_reading(reading, title, note)))


def _bytes(page: str) -> bytes:
    """The page as a text-mode write would store it (line ends and all)."""
    return (page if os.linesep == "\n" else page.replace("\n", os.linesep)).encode("utf-8")


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def page_names(rels: Sequence[str]) -> list[str]:
    """A page name for each file, in order: its path with anything but letters, digits, `.`, `-`
    and `_` as `_` (`基础/attention.md` -> `基础_attention.md.html`), never hidden, never too
    long, and unique even where the file system ignores case (`-2`, `-3` … after the first)."""
    names: list[str] = []
    seen: set[str] = set()
    for rel in rels:
        base = re.sub(r"[^\w.-]+", "_", rel).lstrip("._-")
        base = (
            base.encode("utf-8")[:MAX_NAME_BYTES].decode("utf-8", "ignore").rstrip("._-") or "file"
        )
        name, k = f"{base}.html", 1
        while name.casefold() in seen:
            k += 1
            name = f"{base}-{k}.html"
        seen.add(name.casefold())
        names.append(name)
    return names


MANIFEST = ".pages.json"
"""In the pages folder: for each page, a digest of what it shows, one of its bytes and, when the
build gave one, its key (see `write_reading_pages`)."""


class _Known(NamedTuple):
    """A page of the last build, as its manifest tells it."""

    shows: str
    page: str
    key: str | None


def write_reading_pages(
    folder: Path,
    documents: Sequence[Document],
    previous: Path | None = None,
    keys: Sequence[str] | None = None,
) -> list[Path]:
    """One page per read document into `folder` (made here), named by `page_names`.

    The build drops each file's text once read, so each is read again here (as `build` decoded
    it); its questions and unattached text are the build's own. A file that cannot be read again
    (removed since) gets a page saying so. A page that would show just what its page in
    `previous` (the last build's folder) shows, by the digests of `MANIFEST`, is linked or copied
    from there rather than rendered again: an edit to one file renders one page.

    `keys`, one per document, change whenever the document's text or the way it is read does
    (the build's parse keys, which also change with the code). A page whose key is the one its
    page in `previous` was written for is that page, so it is linked without reading the file
    again or working out its lines' roles: most builds change a file or two of hundreds."""
    if keys is not None and len(keys) != len(documents):
        raise ValueError(f"{len(keys)} keys for {len(documents)} documents")
    folder.mkdir(parents=True, exist_ok=True)
    before = _manifest(previous) if previous is not None else {}
    after: dict[str, list[str]] = {}
    written: list[Path] = []
    for i, (doc, name) in enumerate(
        zip(documents, page_names([d.source.rel for d in documents]), strict=True)
    ):
        src = doc.source
        path = folder / name
        old = before.get(name)
        key = _page_key(keys[i], name, src.rel) if keys is not None else None
        if (
            previous is not None
            and old is not None
            and key is not None
            and old.key == key
            and _reuse(previous / name, path, old.page)
        ):
            after[name] = [old.shows, old.page, key]
            written.append(path)
            continue
        diags = Diagnostics()
        again = sources.load(sources.Found(src.path, src.rel, src.root), diags)
        note = ""
        if again is None:
            why = next((d.message for d in diags.items), "cannot read file")
            note = f"could not read the file again to show it: {why}"
        lines = file_lines(again.text) if again is not None else []
        roles = roles_of(doc, lines)
        summary = summary_of(*question_counts(doc), roles.count("none"))
        shows = _shows(src.rel, src.format, summary, note, lines, roles)
        if (
            previous is not None
            and old is not None
            and old.shows == shows
            and _reuse(previous / name, path, old.page)
        ):
            page = old.page
        else:
            data = _bytes(
                _render(
                    src.rel,
                    src.format,
                    summary,
                    note,
                    _lines_html(range(1, len(lines) + 1), roles, lines),
                )
            )
            _write(path, data)
            page = _digest(data)
        # a page saying the file could not be read again is not what its key shows
        after[name] = [shows, page, key] if key is not None and not note else [shows, page]
        written.append(path)
    (folder / MANIFEST).write_text(
        json.dumps(after, ensure_ascii=False, sort_keys=True), encoding="utf-8"
    )
    return written


def _page_key(key: str, name: str, rel: str) -> str:
    """The build's key for a document, made the key of its page: the same key, name, file and
    template (and version of bagu2anki) make the same page."""
    return _digest_of(("reading page", __version__, _template_source(), name, rel, key))


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _digest_of(parts: Iterable[str]) -> str:
    """SHA-256 of `parts`, each after its length: no two lists of parts give the same bytes."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


_ROLE_MARK: dict[str | None, str] = {None: " ", **{role: m for role, m in MARK.items()}}


def _shows(
    rel: str, fmt: str, summary: str, note: str, lines: Sequence[str], roles: Sequence[str | None]
) -> str:
    """A digest of everything a page is made from: the template, the file's name, its summary,
    and each line with its role (one letter a line, lest hashing cost a call a line)."""
    marks = "".join(map(_ROLE_MARK.__getitem__, roles))
    return _digest_of((_template_source(), rel, fmt, summary, note, "\n".join(lines), marks))


def _manifest(folder: Path) -> dict[str, _Known]:
    """The last build's digests (and keys) per page; nothing when there is none or it is not
    ours, and no page whose entry is not. A page without a key (written by a build that gave
    none) is known by what it shows only: its file is read again."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        k: _Known(v[0], v[1], v[2] if len(v) == 3 else None)
        for k, v in data.items()
        if isinstance(k, str)
        and isinstance(v, list)
        and len(v) in (2, 3)
        and all(isinstance(x, str) for x in v)
    }


def _reuse(old: Path, new: Path, digest: str) -> bool:
    """Link (or copy) the last build's page to `new`, when its bytes are what the manifest says."""
    try:
        if _digest(old.read_bytes()) != digest:
            return False  # changed since it was written: rendered again
        try:
            os.link(old, new)
        except OSError:
            shutil.copyfile(old, new)
    except OSError:
        return False
    return True
