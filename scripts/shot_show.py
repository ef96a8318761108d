"""The picture of `bagu2anki show --html` in docs/reading.md: one shipped note file's reading
page on a phone.

    python scripts/shot_show.py [--note notes/微调/peft.md] [--from 70] [--dark] [--out docs/images/show.png]

Writes the page with `bagu2anki show FILE --html` into a temporary folder, opens it in Debian's
headless Chromium (/usr/bin/chromium through Playwright's `executable_path`, never a downloaded
browser; every request that is not file:/data:/about: refused) at 390x844, scale 1, and saves a
screenshot. The lines from `--from LINE` on fill the screen under the page's header, legend and
summary (the lines above are hidden, `--from 0` shows the top): the default picture shows a
question that asks two things, its answer, and its second part as a follow-up.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from screenshots import CHROMIUM, CHROMIUM_ARGS, LOCAL_SCHEMES, PHONE, REPO  # noqa: E402  the same browser

# Hide the lines between the header and LINE, so that one screen shows the legend and LINE on.
SKIP_TO_JS = """
(line) => {
  for (const el of document.querySelectorAll('main > div')) {
    if (Number(el.id.slice(1)) >= line) break;
    el.style.display = 'none';
  }
  const gap = document.createElement('div');
  gap.className = 'skipped';
  gap.textContent = '⋮';
  gap.style.cssText = 'padding: 0 14px; color: var(--dim)';
  document.querySelector('main').prepend(gap);
}
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--note", type=Path, default=REPO / "notes" / "微调" / "peft.md")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "show.png")
    ap.add_argument("--from", dest="start", type=int, default=70,
                    help="first line to show under the header (default 70: peft.md's SFT question and its follow-up)")
    ap.add_argument("--dark", action="store_true", help="the page in dark mode")
    args = ap.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"missing {CHROMIUM} (apt-get install chromium fonts-wqy-microhei)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        page_file = Path(tmp) / "show.html"
        note = args.note.resolve()
        shown = note.relative_to(REPO).as_posix() if note.is_relative_to(REPO) else str(note)
        subprocess.run(
            [sys.executable, "-m", "bagu2anki", "show", shown, "--html", str(page_file)],
            cwd=REPO, check=True, stdout=subprocess.DEVNULL,
        )
        blocked: list[str] = []
        errors: list[str] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
            try:
                context = browser.new_context(
                    viewport=PHONE, device_scale_factor=1, service_workers="block",
                    color_scheme="dark" if args.dark else "light",
                )

                def route(r: object) -> None:
                    request = r.request  # type: ignore[attr-defined]
                    if request.url.startswith(LOCAL_SCHEMES):
                        r.continue_()  # type: ignore[attr-defined]
                    else:
                        blocked.append(request.url)
                        r.abort("internetdisconnected")  # type: ignore[attr-defined]

                context.route("**/*", route)
                page = context.new_page()
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(page_file.as_uri(), wait_until="load")
                if args.start > 1:
                    page.evaluate(SKIP_TO_JS, args.start)
                page.evaluate("() => document.fonts.ready.then(() => true)")
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out), animations="disabled")
                context.close()
            finally:
                browser.close()
    if blocked or errors:
        print(f"blocked {blocked} errors {errors}", file=sys.stderr)
        return 1
    out = args.out.resolve()
    print(f"{out.relative_to(REPO) if out.is_relative_to(REPO) else out}  {out.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
