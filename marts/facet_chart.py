"""A grid of small plots, one per task, sharing one x axis and one legend: the layout of the
training-progress and loss-axis charts, where one chart per task would flood the gallery.

Each facet draws lines (one per `line`), points with a tooltip naming the source of each, and the
task's random level as a dashed rule labelled in the facet. Text reaches Vega only as data or
datum values (escaped by chart_files.py on the page).
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import polars as pl

from marts.chart_style import BASELINE_COLOUR, chart_title, configure, notes_chart, wrap

NOTE_CHAR_PX = 5.9  # DejaVu Sans at the notes' 11 px (chart_style.NOTE_WRAP_CHARS uses the same)

FACET_WIDTH = 230
FACET_HEIGHT = 160
FACET_COLUMNS = 3
FADED = 0.12


def _facet_domain(values: Sequence[float], random_level: float | None) -> list[float]:
    """Y range over the facet's values and its random level, floored at 0 for percentages."""
    ys = [*values, *([random_level] if random_level is not None else [])]
    lo, hi = min(ys), max(ys)
    span = (hi - lo) or 1.0
    return [max(0.0, lo - 0.05 * span), min(100.0, hi + 0.05 * span)]


def facet_grid(
    frame: pl.DataFrame,
    *,
    facet_column: str,
    legend_field: str,
    x: alt.X,
    colour: alt.Color,
    tooltip: Sequence[alt.Tooltip],
    y_title: str,
    title: str,
    subtitle: str,
    notes: Sequence[str],
) -> alt.TopLevelMixin:
    """One plot per distinct `facet_column` value (in the frame's order), 3 per row.

    `frame` needs `value`, `line` (what a line connects), `random_level` and the fields that
    `x`, `colour` and `tooltip` name; clicking a legend entry (the `legend_field` that `colour`
    encodes) highlights its points in every facet."""
    highlight = alt.selection_point(name="highlight", fields=[legend_field], bind="legend")
    facets = []
    for i, name in enumerate(frame.get_column(facet_column).unique(maintain_order=True).to_list()):
        part = frame.filter(pl.col(facet_column) == name)
        levels = part.get_column("random_level").drop_nulls()
        random_level = float(levels[0]) if len(levels) else None
        y = alt.Y(
            "value:Q",
            title=y_title,
            scale=alt.Scale(
                domain=_facet_domain(part.get_column("value").to_list(), random_level), nice=True
            ),
        )
        base = alt.Chart(part).encode(
            x=x,
            y=y,
            color=colour,
            opacity=alt.condition(highlight, alt.value(1.0), alt.value(FADED)),
        )
        lines = base.mark_line(strokeWidth=1.6).encode(detail="line:N")
        layers: list[alt.Chart] = [
            # Defined once (in the first facet); every facet's opacity follows it.
            lines.add_params(highlight) if i == 0 else lines,
            base.mark_point(filled=True, size=22).encode(tooltip=list(tooltip)),
        ]
        if random_level is not None:
            layers.append(
                alt.Chart()
                .mark_rule(strokeDash=[6, 4], color=BASELINE_COLOUR, strokeWidth=1.3)
                .encode(y=alt.datum(random_level), tooltip=alt.value(f"Random: {random_level:g}"))
            )
            layers.append(
                alt.Chart()
                .mark_text(
                    align="right",
                    baseline="bottom",
                    dx=-3,
                    dy=-2,
                    fontSize=10,
                    color=BASELINE_COLOUR,
                )
                .encode(
                    x=alt.value(FACET_WIDTH),
                    y=alt.datum(random_level),
                    text=alt.datum(f"random {random_level:g}"),
                )
            )
        facets.append(
            alt.layer(*layers).properties(
                width=FACET_WIDTH,
                height=FACET_HEIGHT,
                title=alt.TitleParams(str(name), fontSize=13, anchor="start"),
            )
        )
    grid = alt.concat(*facets, columns=FACET_COLUMNS, spacing=18)
    width = FACET_COLUMNS * FACET_WIDTH + (FACET_COLUMNS - 1) * 60
    chart = alt.vconcat(
        grid,
        notes_chart(wrap(notes, width=int(width / NOTE_CHAR_PX)), width),
        spacing=14,
        title=chart_title(title, subtitle, width=120),
    )
    return configure(chart)
