"""Find note files under the given paths and decode them: paths -> SourceFile*.

Decoding: BOMs first (UTF-8/16/32), then strict UTF-8, then charset-normalizer (GB18030/GBK
and friends), always reported. Line endings become LF; NBSP becomes a space and zero-width
characters are dropped. Nothing here ever writes.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bagu2anki.diagnostics import Diagnostics, counted
from bagu2anki.model import Format, SourceFile

NOTE_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".txt": "text"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".bmp", ".avif"}
SKIP_DIRS = {".git", ".obsidian", ".trash", "node_modules", ".vitepress", "__pycache__", ".github"}
LOCAL_CATALOGUE_NAMES = ("concepts.yaml", "concepts.yml", "concepts.toml")
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab and line feed are text
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_MD_STRUCTURE = re.compile(r"^(?:#{1,6} \S|```|~~~)", re.M)
MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Found:
    path: Path
    rel: str
    root: Path


def discover(paths: list[Path], diags: Diagnostics, exclude: Sequence[Path] = ()) -> list[Found]:
    """Note files under `paths`, sorted, each once; symlink loops and non-notes reported.

    Only regular files inside the folder given are read: a symlink that leads out of it, a
    FIFO, a device or a socket is skipped with a warning (reading `/dev/zero` never ends), and
    so are the folders in `exclude` (the build's own output folder inside the notes)."""
    found: dict[Path, Found] = {}
    excluded = {p.resolve() for p in exclude}
    for given in paths:
        if not given.exists():
            diags.error(str(given), None, "no such file or folder", "missing-path")
            continue
        if not given.is_dir():
            if given.suffix.lower() not in NOTE_SUFFIXES:
                diags.warning(str(given), None, "not a note file (.md, .markdown or .txt): skipped", "skipped-file")
                continue
            if not _regular(given):
                diags.warning(str(given), None, "not a regular file (a FIFO, device or socket): skipped", "special-file")
                continue
            real = given.resolve()
            found.setdefault(real, Found(given, display_name(given.name), given.parent))
            continue
        root = given
        for f in _walk(root, diags, excluded):
            real = f.resolve()
            if real in found:
                continue
            found[real] = Found(f, display_name(f.relative_to(root).as_posix()), root)
    return sorted(found.values(), key=lambda x: (x.root.as_posix(), x.rel))


def display_name(name: str) -> str:
    """A path as text: a file name that is not UTF-8 (a GBK name out of a Windows zip) shows
    with replacement characters; the file itself is still read by its real name."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except (OSError, ValueError):
        return False


def nothing_to_read(paths: list[Path], found: int, diags: Diagnostics) -> str:
    """One line for a build with no notes: where it looked, for what, and what it passed over."""
    where = ", ".join(str(p) for p in paths)
    skipped = [d.path for d in diags.items if d.code in ("skipped-file", "binary", "empty", "unreadable", "encoding")]
    if found:
        head = f"no notes read from {where}: {counted(found, 'note file')} found, none with text"
    else:
        head = f"no note files in {where}: looked for {', '.join(NOTE_SUFFIXES)} files"
    if skipped:
        shown = ", ".join(skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        head += f"; skipped {shown}"
    return head + "; nothing written"


def _walk(root: Path, diags: Diagnostics, excluded: set[Path] | None = None) -> Iterator[Path]:
    excluded = excluded or set()
    seen_dirs: set[tuple[int, int]] = set()
    inside = root.resolve()

    def visit(d: Path) -> Iterator[Path]:
        try:
            st = d.stat()
        except OSError as err:
            diags.warning(str(d), None, f"cannot read folder: {err.strerror}")
            return
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            diags.info(str(d), None, "folder reached twice (symlink loop): skipped")
            return
        seen_dirs.add(key)
        try:
            entries = sorted(os.scandir(d), key=lambda entry: entry.name)
        except OSError as err:
            diags.warning(str(d), None, f"cannot list folder: {err.strerror}")
            return
        for e in entries:
            p = Path(e.path)
            if e.name.startswith(".") or e.name in SKIP_DIRS:
                continue
            rel = display_name(p.relative_to(root).as_posix())
            if e.is_symlink():
                try:
                    target = p.resolve(strict=True)
                except (OSError, RuntimeError):
                    diags.warning(rel, None, "broken symlink: skipped", "unreadable")
                    continue
                if not target.is_relative_to(inside):
                    diags.warning(rel, None, "symlink leads out of the notes folder: skipped", "symlink-outside")
                    continue
            try:
                is_dir = e.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                if p.resolve() in excluded:
                    continue  # the build's own output folder
                yield from visit(p)
                continue
            suffix = p.suffix.lower()
            if suffix in NOTE_SUFFIXES:
                if e.name.lower() in LOCAL_CATALOGUE_NAMES:
                    continue
                if not _regular(p):
                    diags.warning(rel, None, "not a regular file (a FIFO, device or socket): skipped", "special-file")
                    continue
                yield p
            elif suffix in IMAGE_SUFFIXES or suffix in {".yaml", ".yml", ".toml", ".json", ".lock"}:
                continue
            elif e.is_file():
                diags.info(rel, None, "not a note file: skipped", "skipped-file")

    yield from visit(root)


def decode(data: bytes, rel: str, diags: Diagnostics) -> tuple[str, str] | None:
    """Bytes -> (text, encoding name); None for binary content."""
    for bom, enc in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                text = data.decode(enc)
            except UnicodeDecodeError:
                break
            if enc != "utf-8-sig":
                diags.info(rel, None, f"decoded as {enc.upper()} (byte order mark)", "encoding")
            return text, enc
    if b"\x00" in data[:8192]:
        diags.info(rel, None, "binary file: skipped", "binary")
        return None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        diags.warning(rel, None, "cannot tell the text encoding: skipped (save it as UTF-8)", "encoding")
        return None
    enc = best.encoding
    if enc in ("gb2312", "gbk", "big5", "hz", "gb18030"):
        enc = "gb18030" if enc != "big5" else enc
    text = data.decode(enc, errors="replace")
    diags.info(rel, None, f"not UTF-8: decoded as {enc.upper()} (consider saving as UTF-8)", "encoding")
    return text, enc


def normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00a0", " ").replace("\u3000\u3000", "\u3000")
    return _ZERO_WIDTH.sub("", text)


def detect_format(path: Path, text: str) -> Format:
    fmt = NOTE_SUFFIXES.get(path.suffix.lower(), "text")
    if fmt == "text" and len(_MD_STRUCTURE.findall(text)) >= 2:
        return "markdown"
    return "markdown" if fmt == "markdown" else "text"


def load(found: Found, diags: Diagnostics) -> SourceFile | None:
    try:
        size = found.path.stat().st_size
        if size > MAX_BYTES:
            diags.warning(found.rel, None, f"file is {size // (1024 * 1024)} MB, over the 64 MB limit: skipped")
            return None
        data = found.path.read_bytes()
    except OSError as e:
        diags.warning(found.rel, None, f"cannot read file: {e.strerror}: skipped", "unreadable")
        return None
    if not data.strip():
        diags.info(found.rel, None, "empty file", "empty")
        return None
    decoded = decode(data, found.rel, diags)
    if decoded is None:
        return None
    text, enc = decoded
    text = normalise(text)
    control = _CONTROL_RE.search(text)
    if control:
        line = text.count("\n", 0, control.start()) + 1
        n = len(_CONTROL_RE.findall(text))
        diags.warning(
            found.rel, line,
            f"{counted(n, 'control character')} (U+{ord(control.group()):04X} first) removed: Anki cannot store them",
            "control-character",
        )
        text = _CONTROL_RE.sub("", text)
    return SourceFile(found.path, found.rel, text, enc, detect_format(found.path, text), found.root)


_NOTION_ID_RE = re.compile(r"\s+[0-9a-f]{32}$")


def file_title(path: str | Path) -> str:
    """A note file's name as a title: its stem, without the id Notion appends (`面经 3f2a…e9`)."""
    return _NOTION_ID_RE.sub("", Path(path).stem) or Path(path).stem
