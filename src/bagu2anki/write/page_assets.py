"""The map page's building blocks: note data as script-safe JSON, CSP hashes for our inline
scripts, the Jinja2 template, vis-network's options, and its JS and CSS inlined from the pyvis
package."""

from __future__ import annotations

import base64
import hashlib
import importlib.resources
import json
import re
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

TEMPLATE_NAME = "graph.html.j2"
FONT_STACK_CSS = (
    '"PingFang SC","Noto Sans CJK SC","Microsoft YaHei","WenQuanYi Micro Hei",sans-serif'
)
# vis-network strips double quotes from the canvas font string, so the canvas gets single quotes.
FONT_STACK_CANVAS = FONT_STACK_CSS.replace('"', "'")


def script_json(payload: dict[str, Any]) -> str:
    """JSON that cannot end its <script> block or open an HTML comment, whatever the notes say."""
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def csp_hash(script: str) -> Markup:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return Markup(f"'sha256-{base64.b64encode(digest).decode('ascii')}'")


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["csp_hash"] = csp_hash
    return env


def template_source() -> str:
    """`bagu2anki.templates` in an installed wheel; the repository's templates/ in a checkout."""
    try:
        return (
            importlib.resources.files("bagu2anki.templates")
            .joinpath(TEMPLATE_NAME)
            .read_text(encoding="utf-8")
        )
    except ModuleNotFoundError:
        checkout = Path(__file__).resolve().parents[3] / "templates" / TEMPLATE_NAME
        if not checkout.is_file():
            raise
        return checkout.read_text(encoding="utf-8")


_SOURCE_MAP = re.compile(r"^//# sourceMappingURL=.*$", re.MULTILINE)
_CLOSES_SCRIPT = re.compile(r"</script|<!--", re.IGNORECASE)
_CLOSES_STYLE = re.compile(r"</style", re.IGNORECASE)


def vis_assets() -> tuple[str, str]:
    """vis-network's JS and CSS from the newest copy shipped inside pyvis, ready to inline."""
    lib = importlib.resources.files("pyvis").joinpath("lib")
    versions = []
    for entry in lib.iterdir():
        found = re.fullmatch(r"vis-(\d+(?:\.\d+)*)", entry.name)
        if found and entry.joinpath("vis-network.min.js").is_file():
            versions.append((tuple(int(p) for p in found.group(1).split(".")), entry.name))
    if not versions:
        raise RuntimeError("pyvis ships no vis-network copy under pyvis/lib")
    folder = lib.joinpath(max(versions)[1])
    js = _SOURCE_MAP.sub("", folder.joinpath("vis-network.min.js").read_text(encoding="utf-8"))
    css = _SOURCE_MAP.sub("", folder.joinpath("vis-network.css").read_text(encoding="utf-8"))
    css = re.sub(r"/\*# sourceMappingURL=.*?\*/", "", css)
    # A bare "<script" in a JS string is harmless; "</script" or "<!--" would break the page.
    if _CLOSES_SCRIPT.search(js) or _CLOSES_STYLE.search(css):
        raise RuntimeError("vis-network assets cannot be inlined safely (closing tag inside)")
    return js.rstrip() + "\n", css.rstrip() + "\n"


def vis_options(big: bool) -> dict[str, Any]:
    smooth: dict[str, Any] = (
        {"enabled": False}
        if big
        else {
            "enabled": True,
            "type": "cubicBezier",
            "forceDirection": "horizontal",
            "roundness": 0.45,
        }
    )
    return {
        "autoResize": True,
        "edges": {
            "arrows": {"to": {"enabled": True, "scaleFactor": 0.55}},
            "color": {
                "color": "#a9b4c2",
                "highlight": "#52606d",
                "hover": "#52606d",
                "inherit": False,
            },
            "selectionWidth": 0,
            "smooth": smooth,
            "width": 1.2,
        },
        "interaction": {
            "dragNodes": True,
            "hideEdgesOnDrag": big,
            "hideEdgesOnZoom": big,
            "hover": not big,
            "hoverConnectedEdges": False,
            "keyboard": {"enabled": False},
            "multiselect": False,
            "navigationButtons": False,
            "selectConnectedEdges": False,
            "tooltipDelay": 250,
        },
        "layout": {"hierarchical": {"enabled": False}, "improvedLayout": False, "randomSeed": 1},
        "nodes": {
            "borderWidth": 1.5,
            "borderWidthSelected": 3,
            "font": {
                "color": "#1f2933",
                "face": FONT_STACK_CANVAS,
                "size": 15,
                "strokeColor": "#ffffff",
                "strokeWidth": 4,
            },
            "shape": "dot",
            "widthConstraint": {"maximum": 150},
        },
        "physics": {"enabled": False, "stabilization": {"enabled": False}},
    }
