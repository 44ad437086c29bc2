"""The look every chart of the lake shares: sizes, fonts, titles, notes under the plot, log axes."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Sequence

import altair as alt
import polars as pl

from marts.number_format import SUPERSCRIPT

# Plot width in pixels; axis, margin labels and padding bring a panel to about 720 px
# (the PNG is rendered at twice this).
PANEL_WIDTH = 540
PLOT_HEIGHT = 320
# DejaVu Sans has every superscript digit (10²⁴); the renderer's default sans lacks some and
# falls back glyph by glyph, which makes tick labels uneven.
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
BASELINE_COLOUR = "#555555"
NOTE_COLOUR = "#444444"
NOTE_FONT_SIZE = 11
NOTE_LINE_HEIGHT = 15
# Characters per note line at NOTE_FONT_SIZE across PANEL_WIDTH (about 5.9 px per character of
# DejaVu Sans at 11 px, measured on the rendered PNG).
NOTE_WRAP_CHARS = int(PANEL_WIDTH / 5.9)


def wrap(lines: Iterable[str], width: int = NOTE_WRAP_CHARS) -> list[str]:
    """Vega text does not wrap, so notes are wrapped here, keeping explicit paragraphs."""
    out: list[str] = []
    for line in lines:
        out.extend(textwrap.wrap(line, width=width, subsequent_indent="  ") or [""])
    return out


def require(frame: pl.DataFrame, columns: Sequence[str], what: str) -> None:
    """Fail with the missing column names, not a KeyError deep inside Altair."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} frame lacks columns {missing}; expected {list(columns)}, found {frame.columns}"
        )


def chart_title(title: str, subtitle: str, width: int = 90) -> alt.TitleParams:
    """Title + subtitle naming the exact task, setting and metric."""
    return alt.TitleParams(
        text=title,
        subtitle=wrap([subtitle], width=width),
        anchor="start",
        fontSize=16,
        subtitleFontSize=12.5,
        subtitleColor="#333333",
        offset=10,
    )


def configure(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """Legible fonts at PNG scale 2 and a white background (PNG viewers show transparency)."""
    return (
        chart.configure(font=FONT, background="white", padding=12)
        .configure_axis(
            labelFontSize=12, titleFontSize=13, titleFontWeight="normal", gridColor="#e6e6e6"
        )
        .configure_legend(labelFontSize=12, titleFontSize=12, labelLimit=320, symbolSize=80)
        .configure_view(stroke="#bbbbbb")
    )


def notes_chart(lines: Sequence[str], width: int) -> alt.Chart:
    """A block of text under the plot: the notes must survive into the PNG, not only tooltips."""
    frame = pl.DataFrame({"line_no": list(range(len(lines))), "text": list(lines)})
    return (
        alt.Chart(frame)
        .mark_text(
            align="left",
            baseline="top",
            fontSize=NOTE_FONT_SIZE,
            color=NOTE_COLOUR,
            font=FONT,
        )
        .encode(
            x=alt.value(0),
            y=alt.Y("line_no:O", axis=None, scale=alt.Scale(paddingInner=0, paddingOuter=0)),
            text="text:N",
        )
        .properties(
            width=width, height=NOTE_LINE_HEIGHT * len(lines), view=alt.ViewBackground(stroke=None)
        )
    )


def log_domain(values: Sequence[float]) -> tuple[float, float]:
    """Whole decades around the data, with room so edge points are not cut in half."""
    lo = math.floor(math.log10(min(values) / 1.4))
    hi = math.ceil(math.log10(max(values) * 1.4))
    if hi <= lo:
        hi = lo + 1
    return 10.0**lo, 10.0**hi


def decade_axis(domain: tuple[float, float], title: str) -> alt.Axis:
    """Ticks at powers of ten labelled '10²²', as in Wei et al.'s figures."""
    lo, hi = (round(math.log10(d)) for d in domain)
    step = 1 if hi - lo <= 8 else 2
    exponents = list(range(lo, hi + 1, step))
    label = "''"
    for e in reversed(exponents):
        label = (
            f"round(log(datum.value) / LN10) == {e} ? '10{str(e).translate(SUPERSCRIPT)}' : {label}"
        )
    return alt.Axis(
        values=[10.0**e for e in exponents],
        labelExpr=label,
        title=title,
        labelFontSize=13,
        grid=True,
    )
