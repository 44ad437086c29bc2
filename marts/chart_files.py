"""A chart's files: `stem.html` (interactive, offline), `stem.png` and `previews/stem.png`.

Building and rendering charts is the slow part of a lake run, so a chart is drawn only when what
it depends on changed: its inputs (the frames and the panel description, hashed by the caller
with `inputs_hash`) or its spec (which embeds its data), and the chart code and renderer. The hash
is kept beside the files in `hashes/stem.sha256`; when it matches, the chart is neither built nor
rendered. When it is rendered, Vega runs once (to SVG) and both PNGs are rasterised from that SVG.

Text from input files (citations, notes) reaches the page only inside the JSON spec, escaped so
that no `<` can close the script block, and Vega draws it as text; the tooltip handler escapes
HTML. The page title is HTML-escaped.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import altair as alt
import polars as pl
import vl_convert as vlc
from altair.utils._importers import vl_version_for_vl_convert

PNG_SCALE = 2
PREVIEW_SCALE = 0.6  # the small PNG shown inline in Dagster's asset metadata
# Bump when the page template below changes, so every chart's page is written again.
PAGE_VERSION = "3"
GALLERY = "index.html"

PAGE_STYLE = """
html, body { margin: 0; height: 100%; background: white; }
body { display: flex; flex-direction: column;
       font-family: 'DejaVu Sans', Helvetica, Arial, sans-serif; }
nav { padding: 8px 16px; font-size: 14px; border-bottom: 1px solid #ddd; }
nav span { color: #666; margin-left: 12px; }
#chart { flex: 1 1 auto; min-height: 0; position: relative; }
/* The chart fills the window below the links; its SVG keeps its proportions (viewBox). */
#chart svg.marks { position: absolute; top: 8px; left: 8px;
                   width: calc(100% - 16px); height: calc(100% - 16px); }
"""


@cache
def _vega_embed_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script (from vl-convert: no network, no CDN)."""
    bundle = vlc.javascript_bundle(vl_version=vl_version_for_vl_convert())
    return bundle.replace("</script", "<\\/script")


def script_safe_json(value: Any) -> str:
    """JSON that can sit inside a <script> block: no `<`, `>` or `&` can end it or open a comment.

    The escapes are JSON's own (\\u003c), so the script reads back exactly the same values.
    """
    text = json.dumps(value, ensure_ascii=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(raw, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _spec_title(spec: dict[str, Any]) -> str:
    title = spec.get("title")
    if isinstance(title, dict):
        title = title.get("text")
    return title if isinstance(title, str) else "Chart"


def chart_page(spec: dict[str, Any]) -> str:
    """The interactive page: fills the window, links back to the gallery, works offline."""
    title = html.escape(_spec_title(spec))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{PAGE_STYLE}</style>
<script>
{_vega_embed_bundle()}
</script>
</head>
<body>
<nav><a href="{GALLERY}">← All charts</a><span>Hover a point for its source; click a legend entry to highlight it (shift-click for more, double-click to reset).</span></nav>
<div id="chart"></div>
<script>
const spec = {script_safe_json(spec)};
vegaEmbed("#chart", spec, {{"renderer": "svg"}}).catch(console.error);
</script>
</body>
</html>
"""


# The modules that turn frames into files: a change to any of them re-renders every chart.
CHART_CODE = (
    "chart_style",
    "number_format",
    "palette",
    "panel_chart",
    "table1_chart",
    "facet_chart",
    "training_chart",
    "loss_chart",
    "chart_files",
)


@cache
def _renderer_version() -> str:
    """The chart code's source, vl-convert and Vega-Lite versions, the page and PNG settings."""
    here = Path(__file__).parent
    code = hashlib.sha256(b"".join((here / f"{m}.py").read_bytes() for m in CHART_CODE))
    return "|".join(
        (
            code.hexdigest(),
            vlc.__version__,
            vl_version_for_vl_convert(),
            PAGE_VERSION,
            f"{PNG_SCALE}/{PREVIEW_SCALE}",
        )
    )


def _digest(parts: list[str]) -> str:
    digest = hashlib.sha256()
    for part in [*parts, _renderer_version()]:
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def chart_hash(spec: dict[str, Any]) -> str:
    """What a built chart's files depend on: its spec (with its data) and the renderer."""
    return _digest([json.dumps(spec, sort_keys=True, ensure_ascii=False)])


def inputs_hash(*inputs: pl.DataFrame | object) -> str:
    """What a chart's files depend on, before it is built: its input frames (schema and rows)
    and any other value (a panel description, a random level), by repr."""
    parts = [
        f"{x.schema}\n{x.write_csv()}" if isinstance(x, pl.DataFrame) else repr(x) for x in inputs
    ]
    return _digest(parts)


def _write_if_changed(path: Path, data: bytes) -> bool:
    """Write only when the bytes differ, so an unaffected chart keeps its file (and mtime)."""
    if path.exists() and path.read_bytes() == data:
        return False
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return True


def write_chart(
    chart: alt.TopLevelMixin | Callable[[], alt.TopLevelMixin],
    directory: Path,
    stem: str,
    key: str | None = None,
) -> dict[str, Any]:
    """Write `stem.html`, `stem.png` (scale 2) and `previews/stem.png`, unless the hash matches
    the one recorded when they were last written.

    `chart` is a chart, or a function that builds it; with `key` (from `inputs_hash`), an
    up-to-date chart is not even built. Without it the key is the built spec's hash.
    Returns the paths, `hash`, `rendered` (Vega ran) and `changed` (a file was rewritten).
    """
    directory = Path(directory)
    paths = {
        "html": directory / f"{stem}.html",
        "png": directory / f"{stem}.png",
        "preview": directory / "previews" / f"{stem}.png",
    }
    hash_path = directory / "hashes" / f"{stem}.sha256"
    spec: dict[str, Any] | None = None
    if key is None:
        spec = (chart if isinstance(chart, alt.TopLevelMixin) else chart()).to_dict()
        key = chart_hash(spec)
    up_to_date = (
        hash_path.exists()
        and hash_path.read_text().strip() == key
        and all(p.exists() for p in paths.values())
    )
    if up_to_date:
        return {**paths, "hash": key, "rendered": False, "changed": False}
    if spec is None:
        spec = (chart if isinstance(chart, alt.TopLevelMixin) else chart()).to_dict()

    for folder in (paths["preview"].parent, hash_path.parent):
        folder.mkdir(parents=True, exist_ok=True)
    svg = vlc.vegalite_to_svg(spec, vl_version=vl_version_for_vl_convert())
    changed = False
    for path, data in (
        (paths["html"], chart_page(spec).encode("utf-8")),
        (paths["png"], vlc.svg_to_png(svg, scale=PNG_SCALE)),
        (paths["preview"], vlc.svg_to_png(svg, scale=PREVIEW_SCALE)),
    ):
        changed |= _write_if_changed(path, data)
    # Last: a run that dies above leaves the old hash, so the next run renders again.
    _write_if_changed(hash_path, key.encode())
    return {**paths, "hash": key, "rendered": True, "changed": changed}
