"""One HTML page that shows every chart of the lake at a glance (data/charts/index.html).

Each card shows a panel's PNG (which carries its title) with a caption computed from the data, and
links to its interactive HTML; a panel without data says so in words and links nowhere, so a
missing figure is visible as missing rather than absent from the page. Every text is escaped.
Everything is relative to the page, so the folder can be opened from disk or copied elsewhere.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

PAGE_STYLE = """
body { font-family: 'DejaVu Sans', Helvetica, Arial, sans-serif; margin: 24px; color: #222;
       background: #f6f6f6; }
h1 { font-size: 22px; margin: 0 0 4px; }
p.lead { margin: 0 0 20px; color: #555; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 20px; }
.card { background: white; border: 1px solid #ddd; border-radius: 6px; padding: 12px; }
.card h2 { font-size: 16px; margin: 0 0 8px; }
.card img { width: 100%; height: auto; display: block; border: 0; }
.card p.caption { font-size: 13px; color: #444; margin: 8px 0 0; }
.card.no-data { border-style: dashed; background: #fafafa; }
.no-data-text { font-size: 14px; color: #8a4b00; margin: 8px 0; font-weight: bold; }
.links { font-size: 12px; margin-top: 6px; }
"""


@dataclass(frozen=True)
class GalleryEntry:
    """One chart on the page: `stem` names `stem.png` and `stem.html` in the gallery folder."""

    stem: str
    title: str
    caption: str
    has_data: bool


def _card(entry: GalleryEntry, directory: Path) -> str:
    """HTML for one chart card, each text once: the PNG carries the chart's title (and, for a
    panel without data, its reason), the card adds the caption computed from the data. A panel
    without data links nowhere; without a PNG, the card says it all in words."""
    stem = html.escape(entry.stem, quote=True)
    title = html.escape(entry.title, quote=True)
    caption = html.escape(entry.caption, quote=True)
    png_exists = (directory / f"{entry.stem}.png").exists()
    linked = entry.has_data and (directory / f"{entry.stem}.html").exists()
    parts = [f'<section class="card{"" if entry.has_data else " no-data"}" id="{stem}">']
    if png_exists:
        alt = title if entry.has_data else f"{title}. No data for this panel: {caption}"
        image = f'<img src="{stem}.png" alt="{alt}" loading="lazy">'
        parts.append(f'<a href="{stem}.html">{image}</a>' if linked else image)
    else:
        parts.append(f"<h2>{title}</h2>")
        if not entry.has_data:
            parts.append('<p class="no-data-text">No data for this panel.</p>')
    if entry.has_data or not png_exists:
        parts.append(f'<p class="caption">{caption}</p>')
    if linked:
        parts.append(f'<p class="links"><a href="{stem}.html">Interactive chart</a></p>')
    parts.append("</section>")
    return "\n".join(parts)


def write_gallery(entries: list[GalleryEntry], directory: Path, summary: str = "") -> Path:
    """Write `directory/index.html` with a card per entry, in the order given; returns its path.

    `summary`, a sentence computed from the warehouse (how many Table 1 rows are recomputed),
    goes under the lead paragraph, escaped."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with_data = sum(e.has_data for e in entries)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = "\n".join(_card(e, directory) for e in entries)
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Emergence lake: charts</title>
<style>{PAGE_STYLE}</style>
</head>
<body>
<h1>Emergent abilities of large language models: the lake's charts</h1>
<p class="lead">Wei et al. (2022), Figures 2 and 3 and Table 1, rebuilt from the warehouse.
{with_data} of {len(entries)} charts have data. Click a chart for its interactive version
(tooltips give each point's model, scale, value and citation). Generated {generated}.</p>
{f'<p class="lead" id="table1-count">{html.escape(summary)}</p>' if summary else ""}
<div class="grid">
{body}
</div>
</body>
</html>
"""
    path = directory / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
