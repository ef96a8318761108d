"""Regenerate the README pictures: cards on a phone, light and night, and the concept map.

    python scripts/screenshots.py [--notes notes] [--out docs/images] [--work out/screenshots-build]

Builds the notes into the work folder, then shows cards the way Anki does: the deck's
own front/back templates and CSS (read back from the .apkg) with the note's fields filled in,
`<body class="card">` (`card nightMode` at night) and MathJax 3 typesetting `\\(…\\)` and
`\\[…\\]`. Each picture is taken in Debian's headless Chromium at 390x844, scale 1, so a PNG
stays well under 200 KB. Writes:

    card-front-light.png     card-back-light.png     card-back-night.png
    card-long-folded.png     card-formula-table.png  card-split.png (one part of a split question)
    card-summaries.png       ten folded answers as they open (built with fold threshold 400)
    card-summaries-night.png the same ten in night mode
    map-start-phone.png      the map as it opens: the concepts the notes use, where chains start
    map-phone.png            one concept chosen: its chain framed above the sheet, its questions
    map-chains-phone.png     the chains list: each prerequisite chain as a line of names

Needs /usr/bin/chromium (apt-get install chromium fonts-wqy-microhei), Playwright's Python
package (never its browser download) and `npm install` in tests/js for mathjax-full.
tests/test_cards_browser.py imports the helpers below to check the same pages.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sqlite3
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",
]
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
MATHJAX_DIR = REPO / "tests" / "js" / "node_modules" / "mathjax-full" / "es5"
MATHJAX_JS = MATHJAX_DIR / "tex-chtml-full.js"
PHONE = {"width": 390, "height": 844}
MAP_CONCEPT = "GQA"


# ---------------------------------------------------------------- the deck, read back


@dataclass(frozen=True)
class Note:
    guid: str
    fields: dict[str, str]
    tags: tuple[str, ...]

    @property
    def source(self) -> str:
        return self.fields.get("Source", "")


@dataclass
class Deck:
    """What Anki would import: the note type's templates and CSS, the notes, the media."""

    front: str
    back: str
    css: str
    notes: list[Note]
    media: dict[str, bytes] = field(default_factory=dict)


def read_apkg(path: Path) -> Deck:
    with zipfile.ZipFile(path) as z, tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "collection.anki2"
        db.write_bytes(z.read("collection.anki2"))
        media_map = json.loads(z.read("media") or b"{}")
        media = {name: z.read(num) for num, name in media_map.items()}
        con = sqlite3.connect(db)
        try:
            models = json.loads(con.execute("select models from col").fetchone()[0])
            rows = con.execute("select guid, mid, flds, tags from notes order by id").fetchall()
        finally:
            con.close()
    (model,) = models.values()
    names = [f["name"] for f in model["flds"]]
    notes = [
        Note(guid, dict(zip(names, flds.split("\x1f"), strict=True)), tuple(tags.split()))
        for guid, _mid, flds, tags in rows
    ]
    tmpl = model["tmpls"][0]
    return Deck(tmpl["qfmt"], tmpl["afmt"], model["css"], notes, media)


_SECTION_RE = re.compile(r"\{\{([#^])([^}]+)\}\}(.*?)\{\{/\2\}\}", re.S)
_FIELD_RE = re.compile(r"\{\{([^#^/}][^}]*)\}\}")


def render_template(template: str, fields: dict[str, str]) -> str:
    """Anki's template syntax as our templates use it: `{{Field}}`, `{{#Field}}…{{/Field}}`."""

    def section(m: re.Match[str]) -> str:
        present = bool(fields.get(m.group(2).strip(), "").strip())
        show = present if m.group(1) == "#" else not present
        return render_template(m.group(3), fields) if show else ""

    out = _SECTION_RE.sub(section, template)

    def value(m: re.Match[str]) -> str:
        name = m.group(1).strip()
        if name not in fields:
            raise KeyError(f"template uses unknown field {name!r}")
        return fields[name]

    return _FIELD_RE.sub(value, out)


def card_page(body: str, css: str, night: bool, mathjax: Path | None = MATHJAX_JS) -> str:
    """A standalone page laid out as Anki's reviewer shows a card side."""
    classes = "card card1" + (" nightMode night_mode" if night else "")
    script = ""
    if mathjax is not None:
        config = {
            "tex": {
                "inlineMath": [["\\(", "\\)"]],
                "displayMath": [["\\[", "\\]"]],
                "processEscapes": False,
                "processEnvironments": False,
                "processRefs": False,
                # Anki loads `noerrors`; we want TeX errors to show up as <mjx-merror>.
                "packages": {"[-]": ["noerrors", "noundefined"]},
            },
            "chtml": {"fontURL": (mathjax.parent / "output/chtml/fonts/woff-v2").as_uri()},
            "loader": {"paths": {"mathjax": mathjax.parent.as_uri()}},
            "options": {"enableMenu": False},
            "startup": {"typeset": True},
        }
        script = (
            "<script>window.MathJax = "
            + json.dumps(config)
            + ";\nwindow.MathJax.startup.pageReady = () => MathJax.startup.defaultPageReady()"
            + ".then(() => { window.__typeset = 'done'; })"
            + ".catch(e => { window.__typeset = 'failed: ' + e; });</script>\n"
            + f'<script src="{html.escape(mathjax.as_uri())}"></script>'
        )
    return (
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<style>{css}</style>\n{script}\n</head>\n"
        f'<body class="{classes}"><div id="qa">{body}</div></body></html>\n'
    )


def write_card_pages(deck: Deck, note: Note, folder: Path, stem: str) -> dict[str, Path]:
    """front/back x light/night pages for one note, with the deck's media beside them."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in deck.media.items():
        target = folder / name
        if not target.exists():
            target.write_bytes(data)
    pages = {}
    for side, tmpl in (("front", deck.front), ("back", deck.back)):
        body = render_template(tmpl, note.fields)
        for mode in ("light", "night"):
            path = folder / f"{stem}-{side}-{mode}.html"
            path.write_text(card_page(body, deck.css, night=mode == "night"), encoding="utf-8")
            pages[f"{side}-{mode}"] = path
    return pages


# ---------------------------------------------------------------- choosing cards


def plain(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def question_notes(deck: Deck) -> list[Note]:
    return [n for n in deck.notes if "概念" not in n.tags and not n.source.startswith("concept:")]


def pick_samples(notes: list[Note]) -> dict[str, Note]:
    """The cards most likely to look wrong: extremes and every kind of content."""

    def answer(n: Note) -> str:
        return n.fields["Answer"]

    def widest_table(n: Note) -> int:
        return max((t.count("<th") for t in re.findall(r"<table.*?</table>", answer(n), re.S)), default=0)

    def longest_code_line(n: Note) -> int:
        blocks = re.findall(r"<pre.*?</pre>", answer(n), re.S)
        return max((len(line) for b in blocks for line in plain(b).splitlines()), default=0)

    def longest_display(n: Note) -> int:
        return max((len(m) for m in re.findall(r"\\\[(.*?)\\\]", answer(n), re.S)), default=0)

    by_length = sorted(notes, key=lambda n: len(plain(answer(n))))
    picks = {"shortest": by_length[0], "longest": by_length[-1]}
    for name, score in (("table", widest_table), ("code", longest_code_line), ("display-math", longest_display)):
        best = max(notes, key=score)
        if score(best) > 0:
            picks[name] = best
    for name, marker in (("image", "<img "), ("reference", 'class="ref"')):
        found = [n for n in notes if marker in answer(n)]
        if found:
            picks[name] = found[0]
    return picks


# ---------------------------------------------------------------- the browser


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium through Playwright; never a downloaded browser."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Watch:
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def open_page(browser: Any, path: Path, viewport: dict[str, int] = PHONE) -> tuple[Any, Any, Watch]:
    """A phone-sized page on `path`; every request that is not file:/data:/about: is refused."""
    watch = Watch()
    context = browser.new_context(viewport=viewport, device_scale_factor=1, service_workers="block")

    def route(r: Any) -> None:
        if r.request.url.startswith(LOCAL_SCHEMES):
            r.continue_()
        else:
            watch.blocked.append(r.request.url)
            r.abort("internetdisconnected")

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: watch.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: watch.errors.append(str(e)))
    page.goto(path.as_uri(), wait_until="load")
    return context, page, watch


def wait_typeset(page: Any, timeout_ms: int = 30_000) -> None:
    page.wait_for_function("() => window.__typeset !== undefined", timeout=timeout_ms)
    state = page.evaluate("() => window.__typeset")
    if state != "done":
        raise RuntimeError(f"MathJax did not finish: {state}")
    page.evaluate("() => document.fonts.ready.then(() => true)")


def open_details(page: Any) -> None:
    page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")


OVERFLOW_JS = """
() => {
  const W = document.documentElement.clientWidth;
  const scrolls = el => {
    const s = getComputedStyle(el);
    return ['auto', 'scroll', 'hidden', 'clip'].includes(s.overflowX);
  };
  // Inside a box that scrolls (or clips) sideways, an element may be wider than the screen:
  // that box is checked on its own, as one more element of the page.
  const contained = el => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (scrolls(p)) return true;
    }
    return false;
  };
  const describe = el => {
    let d = el.tagName.toLowerCase();
    if (el.className && typeof el.className === 'string') d += '.' + el.className.trim().split(/\\s+/).join('.');
    return d + ' "' + (el.textContent || '').trim().slice(0, 40) + '"';
  };
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right > W + 0.5 && !contained(el)) wide.push(describe(el) + ' right=' + Math.round(r.right));
  }
  return {width: W, scrollWidth: document.scrollingElement.scrollWidth, wide: wide.slice(0, 20)};
}
"""

MATH_JS = """
() => {
  const skip = new Set(['PRE', 'CODE', 'SCRIPT', 'STYLE', 'TEXTAREA', 'MJX-CONTAINER']);
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
    acceptNode: n => {
      for (let p = n.parentElement; p; p = p.parentElement) if (skip.has(p.tagName)) return NodeFilter.FILTER_REJECT;
      return NodeFilter.FILTER_ACCEPT;
    }
  });
  const leftovers = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const t = n.textContent;
    if (/\\\\[\\(\\)\\[\\]]/.test(t)) leftovers.push(t.trim().slice(0, 60));
  }
  const errors = [...document.querySelectorAll('mjx-merror, g[data-mml-node="merror"]')].map(
    e => (e.getAttribute('data-mjx-error') || e.textContent || '').slice(0, 80));
  return {
    formulas: document.querySelectorAll('mjx-container').length,
    errors, leftovers,
  };
}
"""


def overflow(page: Any) -> dict[str, Any]:
    return dict(page.evaluate(OVERFLOW_JS))


def math_state(page: Any) -> dict[str, Any]:
    return dict(page.evaluate(MATH_JS))


def shoot(page: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), animations="disabled")


# ---------------------------------------------------------------- the README pictures


def build(notes: Path, out: Path, fold_threshold: int | None = None) -> Path:
    sys.path.insert(0, str(REPO / "src"))
    from bagu2anki.config import Config
    from bagu2anki.pipeline import build as run_build

    # no build cache: pictures must show what the current code renders
    extra = {} if fold_threshold is None else {"fold_threshold": fold_threshold}
    result = run_build(Config(paths=(notes,), out=out, lock=out / "bagu2anki.lock", use_cache=False, **extra))
    return next(p for p in result.outputs if p.suffix == ".apkg")


def _first(notes: list[Note], *markers: str, longer_than: int = 0, shorter_than: int = 10**9) -> Note:
    for n in notes:
        a = n.fields["Answer"]
        if all(m in a for m in markers) and longer_than < len(plain(a)) < shorter_than:
            return n
    raise LookupError(f"no card with {markers}")


SUMMARY_FOLD = 400  # fold threshold for the summaries picture: enough folded answers in the starter notes


SUMMARY_CSS = (
    ".b2a.sample { padding-bottom: 6px; border-bottom: 8px solid #eaeef2; }"
    ".nightMode .b2a.sample, .night_mode .b2a.sample { border-bottom-color: #21262d; }"
)


def folded_notes(deck: Deck, count: int = 10) -> list[Note]:
    """The first `count` question cards whose answer is folded behind 展开全文."""
    folded = [n for n in question_notes(deck) if '<details class="full">' in n.fields["Answer"]][:count]
    if len(folded) < count:
        raise LookupError(f"only {len(folded)} folded answers (fold threshold {SUMMARY_FOLD}?)")
    return folded


def summaries_page(deck: Deck, notes: list[Note], path: Path, night: bool) -> Path:
    """Card backs one under another (question, answer; the rest behind a closed 展开全文), as
    Anki lays each out, in light or night mode."""
    items = "".join(
        f'<div class="b2a card-back sample"><div class="question">{n.fields["Question"]}</div>'
        f'<hr class="answer-rule"><div class="answer">{n.fields["Answer"]}</div></div>'
        for n in notes
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(card_page(items, deck.css + SUMMARY_CSS, night=night), encoding="utf-8")
    return path


def summaries_pictures(browser: Any, notes: Path, work: Path, out: Path, count: int = 10) -> list[Path]:
    """Ten folded answers as a phone shows them on flipping, light and night: each card's back
    as Anki lays it out, its answer opening with its summary, in one tall picture per mode."""
    deck = read_apkg(build(notes, work / "folded", fold_threshold=SUMMARY_FOLD))
    folded = folded_notes(deck, count)
    shots = []
    for mode, name in (("light", "card-summaries.png"), ("night", "card-summaries-night.png")):
        page_path = summaries_page(deck, folded, work / "pages" / f"summaries-{mode}.html", mode == "night")
        context, page, watch = open_page(browser, page_path)
        try:
            wait_typeset(page)
            fit = overflow(page)
            if fit["scrollWidth"] > PHONE["width"] or watch.blocked or watch.errors:
                print(f"{name}: wide {fit['wide']} blocked {watch.blocked} errors {watch.errors}", file=sys.stderr)
            path = out / name
            path.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(path), full_page=True, animations="disabled")
            shots.append(path)
        finally:
            context.close()
    return shots


def map_pictures(browser: Any, graph: Path, out: Path) -> list[Path]:
    """The concept map on a phone: as it opens, with one concept chosen, and the chains list."""
    context, page, watch = open_page(browser, graph)
    shots = []
    try:
        page.wait_for_function("() => window.__mapReady !== undefined", timeout=30_000)
        page.evaluate("() => document.fonts.ready.then(() => true)")
        shots.append(out / "map-start-phone.png")
        shoot(page, shots[-1])
        # one concept picked through the search box: its chain lit, its questions in the sheet
        page.fill("#search", MAP_CONCEPT)
        page.keyboard.press("Enter")
        page.wait_for_selector("#panel:not([hidden])")
        page.wait_for_timeout(900)  # the camera animation
        shots.append(out / "map-phone.png")
        shoot(page, shots[-1])
        page.keyboard.press("Escape")
        page.fill("#search", "")
        page.click("#chains-open")
        page.wait_for_selector("#chains:not([hidden])")
        shots.append(out / "map-chains-phone.png")
        shoot(page, shots[-1])
        if watch.blocked or watch.errors:
            print(f"map: blocked {watch.blocked} errors {watch.errors}", file=sys.stderr)
    finally:
        context.close()
    return shots


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--notes", type=Path, default=REPO / "notes")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    ap.add_argument("--work", type=Path, default=REPO / "out" / "screenshots-build", help="where the decks and pages are built")
    args = ap.parse_args(argv)
    for need, hint in (
        (CHROMIUM, "apt-get install chromium fonts-wqy-microhei"),
        (MATHJAX_JS, "cd tests/js && npm install"),
    ):
        if not need.exists():
            print(f"missing {need} ({hint})", file=sys.stderr)
            return 2

    work = args.work
    apkg = build(args.notes, work)
    deck = read_apkg(apkg)
    notes = question_notes(deck)
    # a card that fits one screen, with a formula that fits it too (the split card has its own
    # picture); a long folded one; a formula and a table
    whole = [n for n in notes if 'class="part-of"' not in n.fields["Question"]]
    medium = _first(whole, "math display", longer_than=150, shorter_than=420)
    long = _first(notes, "<details", "<table")
    table = _first(notes, "<table", "math", shorter_than=900)
    split = next(n for n in notes if 'class="part-of"' in n.fields["Question"])
    shots = (
        ("card-front-light.png", medium, "front-light", False),
        ("card-back-light.png", medium, "back-light", False),
        ("card-back-night.png", medium, "back-night", False),
        ("card-long-folded.png", long, "back-light", False),
        ("card-formula-table.png", table, "back-light", True),
        ("card-split.png", split, "back-light", False),
    )
    written = []
    with chromium() as browser:
        for name, note, which, scroll_to_table in shots:
            pages = write_card_pages(deck, note, work / "pages", re.sub(r"\W+", "-", note.guid))
            context, page, watch = open_page(browser, pages[which])
            try:
                wait_typeset(page)
                if scroll_to_table:
                    page.evaluate("() => document.querySelector('.table-wrap').scrollIntoView({block: 'center'})")
                shoot(page, args.out / name)
                if watch.blocked or watch.errors:
                    print(f"{name}: blocked {watch.blocked} errors {watch.errors}", file=sys.stderr)
            finally:
                context.close()
            written.append(args.out / name)
        written += summaries_pictures(browser, args.notes, work, args.out)
        written += map_pictures(browser, work / "graph.html", args.out)
    for p in written:
        print(f"{p.relative_to(REPO) if p.is_relative_to(REPO) else p}  {p.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
