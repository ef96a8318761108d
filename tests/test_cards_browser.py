"""Cards on a phone, in real headless Chromium (Debian's /usr/bin/chromium, never a download).

The starter notes and the seed are built into decks; a sample of cards (the shortest, the
longest, the widest table, the longest code line, the longest display formula, one with an
image, one cross-reference) is shown the way Anki shows it: the deck's own templates and CSS
with the fields filled in, `<body class="card">` (`card nightMode` at night), MathJax 3
typesetting `\\(…\\)` / `\\[…\\]`, at 390x844. Every side, light and night, must fit the screen
sideways (wide things scroll in their own box), typeset every formula without error, keep the
question in view and its text readable. Pictures go to out/screenshots/.

The page helpers live in scripts/screenshots.py, which makes the README pictures the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CHROMIUM, NOTES, ROOT, SEED, screenshot_helpers

from bagu2anki.config import Config
from bagu2anki.pipeline import build

SCREENSHOTS = ROOT / "out" / "screenshots"
KINDS = ("shortest", "longest", "table", "code", "display-math", "image", "reference")


S = screenshot_helpers()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium fonts-wqy-microhei)")
    pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed")
    if not S.MATHJAX_JS.is_file():
        pytest.skip(f"{S.MATHJAX_JS} is missing: run `npm install` in tests/js (scripts/test.sh does)")
    with S.chromium() as b:
        yield b


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Any]]:
    """kind -> (deck, note), chosen among the starter notes and the seed's cards."""
    decks = []
    for name, path, extra in (("notes", NOTES, {}), ("seed", SEED, {"include_unanswered": True})):
        if not path.exists():
            continue  # ../shared absent: the starter notes still cover every kind
        out = tmp_path_factory.mktemp(name)
        result = build(Config(paths=(path,), out=out, lock=out / "bagu2anki.lock", **extra))  # type: ignore[arg-type]
        decks.append(S.read_apkg(next(p for p in result.outputs if p.suffix == ".apkg")))
    owner = {id(n): d for d in decks for n in S.question_notes(d)}
    picks = S.pick_samples([n for d in decks for n in S.question_notes(d)])
    assert set(picks) == set(KINDS), f"no card for {set(KINDS) - set(picks)}"
    return {kind: (owner[id(note)], note) for kind, note in picks.items()}


def _expected_formulas(fragment: str) -> int:
    text = re.sub(r"<(pre|code)\b[^>]*>.*?</\1>", "", fragment, flags=re.S)
    return len(re.findall(r"(?<!\\)\\[(\[]", text))


CONTRAST_JS = """
() => {
  const rgba = s => { const m = s.match(/[\\d.]+/g).map(Number); return m.length === 3 ? [...m, 1] : m; };
  const lum = ([r, g, b]) => {
    const f = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = el => {
    for (let p = el; p; p = p.parentElement) {
      const c = rgba(getComputedStyle(p).backgroundColor);
      if (c[3] > 0.5) return c;
    }
    return [255, 255, 255, 1];
  };
  const worst = [];
  for (const el of document.querySelectorAll('#qa *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.closest('mjx-container')) continue;
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    const fg = rgba(getComputedStyle(el).color), bg = background(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (ratio < 4.5 || size < 12) worst.push(`${el.tagName.toLowerCase()}.${el.className} "${el.textContent.trim().slice(0, 20)}" contrast ${ratio.toFixed(2)} size ${size}`);
  }
  return worst;
}
"""


@pytest.mark.parametrize("mode", ["light", "night"])
@pytest.mark.parametrize("kind", KINDS)
def test_card_on_a_phone(
    browser: Any, samples: dict[str, tuple[Any, Any]], tmp_path: Path, kind: str, mode: str
) -> None:
    deck, note = samples[kind]
    pages = S.write_card_pages(deck, note, tmp_path, kind)
    for side in ("front", "back"):
        context, page, watch = S.open_page(browser, pages[f"{side}-{mode}"])
        where = f"{kind} card ({note.source}), {side}, {mode}"
        try:
            S.wait_typeset(page)
            assert page.evaluate("() => document.body.className").split() == (
                ["card", "card1"] + (["nightMode", "night_mode"] if mode == "night" else [])
            )
            S.shoot(page, SCREENSHOTS / f"card-{kind}-{side}-{mode}.png")
            # the question is on the first screen, above the answer, and nothing scrolled it away
            q = page.locator(".question").bounding_box()
            assert q is not None and 0 <= q["y"] < 844 * 0.5, where
            assert page.evaluate("() => window.scrollY") == 0, where
            if side == "back":
                a = page.locator(".answer").bounding_box()
                assert a is not None and a["y"] > q["y"] + q["height"] - 1, where
            # the whole card, folded parts opened: nothing wider than the phone
            S.open_details(page)
            fit = S.overflow(page)
            assert fit["width"] == 390, where
            assert fit["scrollWidth"] <= 390, f"{where}: page scrolls sideways ({fit})"
            assert fit["wide"] == [], f"{where}: wider than the screen: {fit['wide']}"
            # every formula typeset, none with an error, no TeX left as text
            field = note.fields["Question"] + ("" if side == "front" else (
                note.fields["Answer"] + note.fields["Prerequisites"] + note.fields["Related"]))  # related questions typeset too
            math = S.math_state(page)
            assert math["errors"] == [], f"{where}: MathJax errors {math['errors']}"
            assert math["leftovers"] == [], f"{where}: untypeset TeX {math['leftovers']}"
            assert math["formulas"] == _expected_formulas(field), where
            # images load and fit; text is readable (contrast, size) in this mode
            images = page.evaluate(
                "() => [...document.images].map(i => [i.currentSrc, i.naturalWidth, i.getBoundingClientRect().right])"
            )
            for src, natural, right in images:
                assert natural > 0, f"{where}: image did not load: {src}"
                assert right <= 390, f"{where}: image wider than the screen: {src}"
            assert page.evaluate(CONTRAST_JS) == [], where
            # an empty optional field (`<span class="none">无</span>`) hides its whole block
            shown_none = "() => [...document.querySelectorAll('.none')].filter(e => e.getClientRects().length).length"
            assert page.evaluate(shown_none) == 0, where
            assert watch.blocked == [], f"{where}: network requests attempted: {watch.blocked}"
            assert watch.errors == [], f"{where}: console errors: {watch.errors}"
        finally:
            context.close()


def test_long_card_folds_behind_its_summary(browser: Any, samples: dict[str, tuple[Any, Any]], tmp_path: Path) -> None:
    deck, note = samples["longest"]
    assert "<details" in note.fields["Answer"]
    pages = S.write_card_pages(deck, note, tmp_path, "longest")
    context, page, watch = S.open_page(browser, pages["back-light"])
    try:
        S.wait_typeset(page)
        summary = page.locator("details.full > summary")
        assert summary.inner_text().strip().endswith("展开全文")
        folded_height = page.evaluate("() => document.scrollingElement.scrollHeight")
        assert page.locator(".lead").is_visible()
        summary.click()
        assert page.evaluate("() => document.querySelector('details.full').open") is True
        assert page.evaluate("() => document.scrollingElement.scrollHeight") > folded_height * 1.5
        assert watch.blocked == [] and watch.errors == []
    finally:
        context.close()


def test_checks_catch_a_bad_card(browser: Any, tmp_path: Path) -> None:
    """The overflow and formula checks above are not vacuous."""
    css = (ROOT / "templates" / "card.css").read_text(encoding="utf-8")
    body = (
        '<div class="b2a"><div class="answer">'
        '<div style="width: 600px">太宽的块</div>'
        r'<p>\(\undefinedmacro{x}\) 和 \(x^{2\)</p>'
        '<div class="table-wrap"><table><tr>' + "<td>很宽的表格单元格</td>" * 12 + "</tr></table></div>"
        "</div></div>"
    )
    path = tmp_path / "bad.html"
    path.write_text(S.card_page(body, css, night=False), encoding="utf-8")
    context, page, _watch = S.open_page(browser, path)
    try:
        S.wait_typeset(page)
        fit = S.overflow(page)
        assert fit["scrollWidth"] > 390
        assert any("太宽的块" in w for w in fit["wide"])
        assert not any("很宽的表格" in w for w in fit["wide"]), "a table scrolling in its box is fine"
        math = S.math_state(page)
        assert math["formulas"] == 1 and math["errors"] == ["Undefined control sequence \\undefinedmacro"]
        assert math["leftovers"] == ["和 \\(x^{2\\)"], "MathJax leaves unbalanced TeX as text"
    finally:
        context.close()


@pytest.fixture(scope="module")
def folded_deck(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, list[Any]]:
    """The starter notes at the summaries picture's fold threshold, and its ten folded cards."""
    out = tmp_path_factory.mktemp("folded")
    result = build(Config(paths=(NOTES,), out=out, lock=out / "bagu2anki.lock", fold_threshold=S.SUMMARY_FOLD))
    deck = S.read_apkg(next(p for p in result.outputs if p.suffix == ".apkg"))
    return deck, S.folded_notes(deck, 10)


@pytest.mark.parametrize("mode", ["light", "night"])
def test_folded_summaries_read_in_light_and_night(
    browser: Any, folded_deck: tuple[Any, list[Any]], tmp_path: Path, mode: str
) -> None:
    """The summaries picture's page (docs/images/card-summaries*.png): ten card backs, each
    opening with its summary and the rest behind a closed 展开全文; in night mode the page takes
    Anki's night classes and every text stays readable."""
    deck, notes = folded_deck
    path = S.summaries_page(deck, notes, tmp_path / f"summaries-{mode}.html", night=mode == "night")
    context, page, watch = S.open_page(browser, path)
    try:
        S.wait_typeset(page)
        classes = page.evaluate("() => document.body.className").split()
        assert ("nightMode" in classes and "night_mode" in classes) == (mode == "night")
        state = page.evaluate(
            """() => [...document.querySelectorAll('.sample')].map(s => {
                const d = s.querySelector('details.full');
                const lead = s.querySelector('.lead');
                return [!!d && !d.open, !!lead && lead.getBoundingClientRect().height > 20,
                        d ? d.querySelector('summary').innerText.trim() : ''];
            })"""
        )
        assert len(state) == 10
        for closed, lead, summary in state:
            assert closed and lead and summary.endswith("展开全文"), state
        background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        assert background == ("rgb(13, 17, 23)" if mode == "night" else "rgb(255, 255, 255)")
        fit = S.overflow(page)
        assert fit["scrollWidth"] <= 390, fit
        assert page.evaluate(CONTRAST_JS) == []
        math = S.math_state(page)
        assert math["errors"] == [] and math["leftovers"] == [], math
        S.shoot(page, SCREENSHOTS / f"card-summaries-{mode}.png")
        assert watch.blocked == [] and watch.errors == []
    finally:
        context.close()
