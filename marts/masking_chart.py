"""The "masking" chart: exact match and the continuous metrics of one series against scale.

Why: Wei et al. note that downstream metrics can mask steady improvement in the likelihood of the
right answer, and Schaeffer et al. (2023) that a hit-or-miss metric can make a smooth gain look
sudden. One panel per metric, stacked over a shared log-scale x axis, shows both at once: the
discrete metric's jump above, the continuous metrics below. The series' verdict is the subtitle.
"""

from __future__ import annotations

import re

import altair as alt
import polars as pl

from marts.chart_style import (
    PANEL_WIDTH,
    chart_title,
    configure,
    decade_axis,
    log_domain,
    require,
)

PANEL_HEIGHT = 120
POINT_COLUMNS = ["model_id", "x", "metric", "value", "unit", "panel_order"]


def chart_stem(task_id: str, family: str, shots: int | None, origin: str) -> str:
    """A file name for one series: only letters, digits, '-' and '_' (task ids hold '/')."""
    raw = f"masking_{task_id}_{family}_{'na' if shots is None else shots}shot_{origin}"
    return re.sub(r"[^A-Za-z0-9_-]+", "-", raw)


def masking_chart(
    points: pl.DataFrame, title: str, subtitle: str, x_title: str
) -> alt.TopLevelMixin:
    """`points`: one row per model x metric (POINT_COLUMNS); panels in `panel_order`."""
    require(points, POINT_COLUMNS, "masking chart")
    points = points.with_columns(
        pl.format("{} ({})", pl.col("metric"), pl.col("unit")).alias("panel")
    ).sort("panel_order", "x")
    domain = log_domain(points["x"].to_list())
    order = points.unique("panel", keep="first").sort("panel_order")["panel"].to_list()
    base = (
        alt.Chart(points)
        .mark_line(point=True)
        .encode(
            x=alt.X(
                "x:Q",
                scale=alt.Scale(type="log", domain=list(domain)),
                axis=decade_axis(domain, x_title),
            ),
            y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
            tooltip=["model_id:N", "metric:N", alt.Tooltip("value:Q", format=".4g"), "unit:N"],
        )
        .properties(width=PANEL_WIDTH, height=PANEL_HEIGHT)
    )
    chart = base.facet(
        row=alt.Row(
            "panel:N", sort=order, header=alt.Header(labelAngle=0, labelAlign="left", title=None)
        ),
        title=chart_title(title, subtitle),
    ).resolve_scale(y="independent")
    return configure(chart)
