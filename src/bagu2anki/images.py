"""Images in answers: where a note's image is (beside the note, in the notes root, in a Hexo
post's asset folder, or by name anywhere in the notes as Obsidian finds embeds), what the card
shows for it, and the file name it gets in the deck. Paths never leave the notes folder.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from bagu2anki.diagnostics import Diagnostics
from bagu2anki.model import Atom
from bagu2anki.sources import IMAGE_SUFFIXES, SKIP_DIRS


@dataclass
class ImageEnv:
    """What an answer's images resolve against, and what they found (one answer at a time)."""

    atom: Atom
    base: Path
    root: Path
    media: dict[Path, str] = field(default_factory=dict)
    diags: Diagnostics | None = None
    vaults: dict[Path, dict[str, list[Path]]] = field(default_factory=dict)  # the renderer's
    lines: list[str] = field(default_factory=list)  # the answer as written, when it is the atom's
    seen: dict[str, int] = field(default_factory=dict)  # how often each image came up so far


def media_name(path: Path) -> str:
    digest = hashlib.sha1(path.read_bytes()).hexdigest()[:16]
    return f"b2a-{digest}{path.suffix.lower()}"


RAW_IMG_RE = re.compile(r"<img\b[^>]*>", re.I)


def _attr(tag: str, name: str) -> str | None:
    m = re.search(rf"""\b{name}\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", tag, re.I)
    if m is None:
        return None
    return html.unescape(next(g for g in m.groups() if g is not None))


def raw_image(tag: str, e: ImageEnv | None) -> str:
    src = _attr(tag, "src") or ""
    width = _attr(tag, "width")
    out = image_html(src, _attr(tag, "alt") or "", e)
    if width and width.isdigit() and out.startswith("<img "):
        out = out[:-1] + f' width="{width}">'
    return out


def image_html(src: str, alt_text: str, e: ImageEnv | None) -> str:
    """An image of the notes: bundled when it is inside the notes folder, a link when remote."""
    alt = html.escape(alt_text)
    if e is None:
        return ""
    if re.match(r"^[a-z][a-z0-9+.-]*:", src, re.I):
        if src.lower().startswith(("http://", "https://")):
            # remote images are never fetched: show a link instead
            return f'<a class="remote-image" href="{html.escape(src)}">[图片] {alt}</a>'
        return f"[图片] {alt}"
    resolved = _resolve_image(src, e)
    if resolved is None:
        return f'<span class="missing-image">[图片缺失: {html.escape(unquote(src))}]</span>'
    name = media_name(resolved)
    e.media[resolved] = name
    return f'<img src="{html.escape(name)}" alt="{alt}">'


def _resolve_image(src: str, e: ImageEnv) -> Path | None:
    where, line = e.atom.source, _image_line(src, e)
    rel = unquote(src.split("#", 1)[0].split("?", 1)[0]).strip()
    src = unquote(src)  # as the note spells it (markdown-it hands over `%E8%AE%AD…` for `训…`)
    refused = _refused(rel)
    if refused:
        if e.diags:  # refused as firmly as a path outside the notes
            e.diags.error(where, line, f"image refused ({refused}): {src}", "image-refused")
        return None
    root = e.root.resolve()
    if rel.startswith("/"):
        candidates = [root / rel.lstrip("/"), root / "public" / rel.lstrip("/")]
    else:
        # beside the note, from the notes root, or in the note's own asset folder (Hexo's
        # `post_asset_folder`: `post.md` keeps its images in `post/`)
        candidates = [e.base / rel, root / rel, e.base / Path(e.atom.source).stem / rel]
    inside = True  # the path read as written (beside the note, or from the root) stays in the notes
    for k, c in enumerate(candidates):
        try:
            real = c.resolve()
        except OSError:
            continue
        if not real.is_relative_to(root):
            # `../img/x.png` from a sub-folder is inside the notes, the same from the root is
            # not: refused when the path as written (beside the note) leaves the notes
            inside = inside and k > 0
            continue
        if real.is_file() and stat.S_ISREG(real.stat().st_mode):
            if real.suffix.lower() not in IMAGE_SUFFIXES:
                if e.diags:
                    e.diags.warning(where, line, f"not an image file, not bundled: {src}", "image-refused")
                return None
            return real
    if not inside:
        if e.diags:
            e.diags.error(where, line, f"image path leaves the notes folder, refused: {src}", "image-outside")
        return None
    if rel.startswith("/") and Path(rel).is_file():
        # a file-system path (`/home/me/x.png`) that is not inside the notes: never bundled
        if e.diags:
            e.diags.error(where, line, f"image path leaves the notes folder, refused: {src}", "image-outside")
        return None
    # by its name anywhere in the notes, as Obsidian finds `![[x.png]]` in `attachments/`
    found = [] if rel.startswith("/") or ".." in Path(rel).parts else in_vault(rel, root, e.vaults)
    if len(found) == 1:
        return found[0]
    if e.diags and found:
        names = ", ".join(p.relative_to(root).as_posix() for p in found)
        e.diags.warning(where, line, f"image {src} matches several files, none taken: {names} (write its folder)", "ambiguous-image")
    elif e.diags:
        e.diags.warning(where, line, f"image not found: {src} (looked next to the note, in the notes root and by name)", "missing-image")
    return None


def _refused(rel: str) -> str | None:
    """Why a path is never bundled as an image, whatever is there: it names
    a hidden file or folder (`.ssh/id_rsa`), or cannot be a file name at all (`a%00.png`). A
    file that is found but has no image suffix is refused where it is found."""
    if "\x00" in rel or not rel:
        return "not a file name"
    parts = Path(rel).parts
    if any(p.startswith(".") and p not in (".", "..") for p in parts):
        return "a hidden file or folder"
    return None


def _image_line(src: str, e: ImageEnv) -> int:
    """The image's own line: the answer is the run of source lines that ends at `end_line`, so
    the n-th mention of `src` in it is counted back from there. Else the question's line."""
    count = e.seen[src] = e.seen.get(src, 0) + 1
    for needle in (plain := unquote(src).strip(), Path(plain.split("?", 1)[0]).name):
        hits = [k for k, text in enumerate(e.lines) if needle and needle in text]
        if len(hits) >= count:
            return max(e.atom.line, e.atom.end_line - (len(e.lines) - 1 - hits[count - 1]))
    return e.atom.line


def in_vault(rel: str, root: Path, vaults: dict[Path, dict[str, list[Path]]]) -> list[Path]:
    """The image files under `root` whose path ends with `rel` (case aside): Obsidian finds
    `![[x.png]]` by its name wherever the vault keeps it (`attachments/x.png`). None whose real
    place is outside `root`. `vaults` holds each root's images by name, listed at the first need."""
    want = tuple(part.lower() for part in Path(rel).parts)
    if not want:
        return []
    if root not in vaults:
        vaults[root] = _images_by_name(root)
    found = []
    for path in vaults[root].get(want[-1], ()):
        if tuple(part.lower() for part in path.relative_to(root).parts[-len(want) :]) == want:
            real = path.resolve()
            if real.is_relative_to(root) and real.is_file():
                found.append(real)
    return found


def _images_by_name(root: Path, max_folders: int = 20_000) -> dict[str, list[Path]]:
    """Image files under `root` by lower-case name; hidden and tool folders left out, as when
    notes are found. A notes root is rarely huge, but a single note's folder may be: bounded."""
    index: dict[str, list[Path]] = {}
    for n, (folder, dirs, files) in enumerate(os.walk(root)):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        for name in sorted(f for f in files if os.path.splitext(f)[1].lower() in IMAGE_SUFFIXES):
            index.setdefault(name.lower(), []).append(Path(folder, name))
        if n >= max_folders:
            break
    return index
