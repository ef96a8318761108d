"""How a file was read (`show.Reading`) -> one standalone, offline HTML page.

`bagu2anki show FILE --html OUT.html` writes one; `build` writes one per note file into
`OUT/reading/` and `report.md` links each file to its page. The page is the file line by line,
a coloured gutter (role letter and line number, each line an anchor `#L12`) and a legend. It
has no script: every text from the notes (the lines, the file's name) is escaped by Jinja2's
autoescape, and a Content-Security-Policy allows nothing but its own inline style (by hash).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import json
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import jinja2
from markupsafe import Markup

from bagu2anki import sources
from bagu2anki.diagnostics import Diagnostics
from bagu2anki.model import Document
from bagu2anki.show import LABEL, MARK, ROLES, Reading, reading_of
from bagu2anki.write.page_assets import FONT_STACK_CSS, environment

TEMPLATE_NAME = "reading.html.j2"
PAGES_FOLDER = "reading"
"""The build's reading pages: `OUT/reading/<page>.html`, one per note file."""
MAX_NAME_BYTES = 120  # a page's name, before `.html`: well under the 255 bytes a name may take


@functools.cache
def _template_source() -> str:
    try:
        return importlib.resources.files("bagu2anki.templates").joinpath(TEMPLATE_NAME).read_text(encoding="utf-8")
    except ModuleNotFoundError:  # a checkout without the package installed
        return (Path(__file__).resolve().parents[3] / "templates" / TEMPLATE_NAME).read_text(encoding="utf-8")


@functools.cache
def _template() -> jinja2.Template:
    return environment().from_string(_template_source())


def render_reading(reading: Reading, title: str | None = None, note: str = "") -> str:
    """The page for `reading`; `title` is the name shown (default: the file's path as read),
    `note` a line said above the lines (a file that could not be read again)."""
    return _template().render(
        title=title or reading.rel,
        reading=reading,
        summary=reading.summary(),
        note=note,
        roles=ROLES,
        mark=MARK,
        label=LABEL,
        font_stack=Markup(FONT_STACK_CSS),  # trusted: quoted as CSS, not as HTML
    )


def write_reading(path: Path, reading: Reading, title: str | None = None, note: str = "") -> None:
    """Write the page whole or not at all (through `path.part`)."""
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.write_text(render_reading(reading, title, note), encoding="utf-8")
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
        base = base.encode("utf-8")[:MAX_NAME_BYTES].decode("utf-8", "ignore").rstrip("._-") or "file"
        name, k = f"{base}.html", 1
        while name.casefold() in seen:
            k += 1
            name = f"{base}-{k}.html"
        seen.add(name.casefold())
        names.append(name)
    return names


MANIFEST = ".pages.json"
"""In the pages folder: for each page, a digest of what it shows and one of its bytes."""


def write_reading_pages(folder: Path, documents: Sequence[Document], previous: Path | None = None) -> list[Path]:
    """One page per read document into `folder` (made here), named by `page_names`.

    The build drops each file's text once read, so each is read again here (as `build` decoded
    it); its questions and unattached text are the build's own. A file that cannot be read again
    (removed since) gets a page saying so. A page that would show just what its page in
    `previous` (the last build's folder) shows, by the digests of `MANIFEST`, is linked or copied
    from there rather than rendered again: an edit to one file renders one page."""
    folder.mkdir(parents=True, exist_ok=True)
    before = _manifest(previous)
    after: dict[str, list[str]] = {}
    written: list[Path] = []
    for doc, name in zip(documents, page_names([d.source.rel for d in documents]), strict=True):
        src = doc.source
        diags = Diagnostics()
        again = sources.load(sources.Found(src.path, src.rel, src.root), diags)
        note = ""
        if again is None:
            why = next((d.message for d in diags.items), "cannot read file")
            note = f"could not read the file again to show it: {why}"
        reading = reading_of(doc, again.text if again is not None else "")
        shows = _shows(reading, note)
        path = folder / name
        old = before.get(name)
        if not (previous is not None and old is not None and old[0] == shows and _reuse(previous / name, path, old[1])):
            write_reading(path, reading, note=note)
        after[name] = [shows, _digest(path.read_bytes())]
        written.append(path)
    (folder / MANIFEST).write_text(json.dumps(after, ensure_ascii=False, sort_keys=True), encoding="utf-8")
    return written


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _shows(reading: Reading, note: str) -> str:
    """A digest of everything a page is made from: the template, the file's name, its summary,
    and each line with its role."""
    h = hashlib.sha256()
    for part in (_template_source(), reading.rel, reading.format, reading.summary(), note):
        h.update(part.encode("utf-8", "surrogatepass") + b"\0")
    for ln in reading.lines:
        h.update(f"{ln.number}\0{ln.role}\0{ln.text}\n".encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def _manifest(folder: Path | None) -> dict[str, tuple[str, str]]:
    """The last build's digests per page; nothing when there is none or it is not ours."""
    if folder is None:
        return {}
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        k: (v[0], v[1])
        for k, v in data.items()
        if isinstance(k, str) and isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v)
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
