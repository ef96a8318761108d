"""Golden files for the readers: `python tests/golden.py` rewrites the expected JSON on purpose.

Review the diff of tests/fixtures/parse/*.expected.json before committing it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "parse"


def parse_fixture(path: Path) -> dict[str, object]:
    from bagu2anki import sources
    from bagu2anki.diagnostics import Diagnostics
    from bagu2anki.parse import read

    diags = Diagnostics()
    found = sources.discover([path], diags)
    src = sources.load(found[0], diags)
    assert src is not None
    doc = read(src, diags)
    return {
        "atoms": [
            {
                "line": a.line,
                "end_line": a.end_line,
                "section": list(a.section),
                "number": a.number,
                "kind": a.kind,
                "question": a.question,
                "answer": a.answer,
                "status": a.status,
                "explicit_id": a.explicit_id,
            }
            for a in doc.atoms
        ],
        "unattached": [[u.line, u.end_line] for u in doc.unattached],
        "chains": [[list(parts), line] for parts, line in doc.chains],
    }


def inputs() -> list[Path]:
    return sorted(p for p in FIXTURES.iterdir() if p.suffix in (".md", ".txt"))


def expected_path(p: Path) -> Path:
    return p.with_name(p.name + ".expected.json")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    for p in inputs():
        expected_path(p).write_text(
            json.dumps(parse_fixture(p), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        print("wrote", expected_path(p).name)
