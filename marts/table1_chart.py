"""Wei et al. Table 1 as a dot plot: each ability's reported emergent scale, the lake's beside it.

A plain function of the `table1` rows joined with `table1_comparison`, so the asset stays thin.
"""

from __future__ import annotations

import altair as alt
import polars as pl

from marts.chart_style import chart_title, configure, decade_axis, log_domain, require
from marts.number_format import drawable_scale, format_flops, format_params

TABLE1_WIDTH = 340
TABLE1_ROW_HEIGHT = 24
# yOffset values count from the top of a row's band: half a row is its centre line.
RECOMPUTED_OFFSET_PX = TABLE1_ROW_HEIGHT / 2 + 7
TABLE1_COLUMNS = (
    "row_order",
    "ability",
    "family",
    "is_numeric",
    "reported_flops",
    "reported_params",
    "computed_flops",
    "computed_params",
    "agrees",
    "prompting_kind",
)


MARKERS: dict[str, tuple[str, str]] = {
    # legend entry: (colour, shape)
    "Reported, few-shot": ("#4e79a7", "circle"),
    "Reported, augmented": ("#f28e2b", "circle"),
    "Recomputed, agrees": ("#2e8b3e", "diamond"),
    "Recomputed, disagrees": ("#d62728", "cross"),
    "Recomputed, not compared": ("#8c8c8c", "diamond"),
}


def _agreement_marker(agrees: bool | None) -> str:
    """Legend entry for a recomputed scale."""
    if agrees is None:
        return "Recomputed, not compared"
    return "Recomputed, agrees" if agrees else "Recomputed, disagrees"


def _scale_text(flops: float | None, params: float | None) -> str:
    """'2.3×10²² FLOPs, 13B params' for tooltips."""
    return f"{format_flops(flops)} FLOPs, {format_params(params)} params"


def table1_chart(table1: pl.DataFrame) -> alt.TopLevelMixin:
    """Table 1 as a dot plot: reported emergent FLOPs per ability, the lake's recomputed scale beside it.

    The 'Many BIG-Bench tasks' row has no number; it stays in the chart as text so the table
    keeps its 23 rows and nobody mistakes the gap for a missing value.
    """
    require(table1, TABLE1_COLUMNS, "table1")
    frame = table1.sort("row_order").with_columns(
        pl.col(c).cast(pl.Float64)
        for c in ("reported_flops", "reported_params", "computed_flops", "computed_params")
    )
    if "reference" not in frame.columns:
        frame = frame.with_columns(reference=pl.lit(None, dtype=pl.String))
    has_computed = (
        pl.col("computed_flops").is_not_null()
        & pl.col("computed_flops").is_finite()
        & (pl.col("computed_flops") > 0)
    )
    frame = frame.with_columns(
        row_label=pl.format("{}. {}", pl.col("row_order"), pl.col("ability")),
        reported_text=pl.struct("reported_flops", "reported_params", "is_numeric").map_elements(
            lambda r: (
                _scale_text(r["reported_flops"], r["reported_params"])
                if r["is_numeric"]
                else "Many (non-numeric)"
            ),
            return_dtype=pl.String,
        ),
        computed_text=pl.when(has_computed)
        .then(
            pl.struct("computed_flops", "computed_params").map_elements(
                lambda r: _scale_text(r["computed_flops"], r["computed_params"]),
                return_dtype=pl.String,
            )
        )
        .otherwise(pl.lit("not recomputed (no curve in the lake)")),
        agreement=pl.when(pl.col("agrees").is_null())
        .then(pl.lit("not compared"))
        .when(pl.col("agrees"))
        .then(pl.lit("agrees"))
        .otherwise(pl.lit("disagrees")),
        # Beside the marks: which family and size the reported scale refers to.
        side_label=pl.format(
            "{} {}",
            pl.col("family"),
            pl.col("reported_params").map_elements(format_params, return_dtype=pl.String),
        ),
        side_flops=pl.max_horizontal(
            "reported_flops", pl.when(has_computed).then(pl.col("computed_flops"))
        ),
    )
    order = frame.get_column("row_label").to_list()

    numeric = [
        v
        for col in ("reported_flops", "computed_flops")
        for v in frame.get_column(col).to_list()
        if drawable_scale(v)
    ]
    lo, hi = log_domain(numeric or [1e22])
    domain = (lo, hi * 10)  # a decade of room on the right for the family labels

    common = [
        "row_label",
        "ability",
        "family",
        "prompting_kind",
        "reported_text",
        "computed_text",
        "agreement",
        "reference",
    ]
    reported = frame.filter(pl.col("is_numeric") & pl.col("reported_flops").is_not_null()).select(
        *common,
        flops=pl.col("reported_flops"),
        kind=pl.lit("reported"),
        marker=pl.when(pl.col("prompting_kind") == "augmented")
        .then(pl.lit("Reported, augmented"))
        .otherwise(pl.lit("Reported, few-shot")),
    )
    computed = frame.filter(has_computed).select(
        *common,
        flops=pl.col("computed_flops"),
        kind=pl.lit("recomputed"),
        marker=pl.col("agrees").map_elements(
            _agreement_marker, return_dtype=pl.String, skip_nulls=False
        ),
    )
    marks = pl.concat([reported, computed])
    links = frame.filter(
        pl.col("is_numeric") & pl.col("reported_flops").is_not_null() & has_computed
    ).select("row_label", "reported_flops", "computed_flops")
    side = frame.filter(pl.col("is_numeric") & pl.col("side_flops").is_not_null()).select(
        "row_label", "side_flops", "side_label"
    )
    non_numeric = frame.filter(~pl.col("is_numeric")).select(*common)

    y = alt.Y(
        "row_label:N",
        sort=order,
        scale=alt.Scale(domain=order, type="band", paddingInner=0, paddingOuter=0),
        title=None,
        axis=alt.Axis(labelLimit=420, labelFontSize=12, grid=True, gridColor="#eeeeee"),
    )
    x_scale = alt.Scale(type="log", domain=list(domain), nice=False)
    x_axis = decade_axis(domain, "Emergent scale, training FLOPs (log)")
    tooltip = [
        alt.Tooltip("ability:N", title="Ability"),
        alt.Tooltip("family:N", title="Model family"),
        alt.Tooltip("prompting_kind:N", title="Prompting"),
        alt.Tooltip("reported_text:N", title="Reported (Table 1)"),
        alt.Tooltip("computed_text:N", title="Recomputed (lake)"),
        alt.Tooltip("agreement:N", title="Agreement"),
        alt.Tooltip("reference:N", title="Reference"),
    ]
    colour = alt.Color(
        "marker:N",
        scale=alt.Scale(domain=list(MARKERS), range=[c for c, _ in MARKERS.values()]),
        legend=alt.Legend(title=None, orient="bottom", columns=2, offset=8),
    )
    shape = alt.Shape(
        "marker:N",
        scale=alt.Scale(domain=list(MARKERS), range=[s for _, s in MARKERS.values()]),
    )
    # The recomputed mark sits a little below the reported one, so agreeing marks stay visible;
    # a grey whisker from under the reported mark shows how far apart the two are.
    below = alt.value(RECOMPUTED_OFFSET_PX)
    layers: list[alt.Chart] = []
    if not links.is_empty():
        layers.append(
            alt.Chart(links)
            .mark_rule(color="#b0b0b0", strokeWidth=1.5)
            .encode(
                x=alt.X("reported_flops:Q", scale=x_scale, axis=x_axis),
                x2="computed_flops:Q",
                y=y,
                yOffset=below,
            )
        )
    point = {"filled": True, "size": 100, "opacity": 0.95}
    for kind, offset in (("reported", None), ("recomputed", below)):
        encoding = {
            "x": alt.X("flops:Q", scale=x_scale, axis=x_axis),
            "y": y,
            "color": colour,
            "shape": shape,
            "tooltip": tooltip,
        }
        if offset is not None:
            encoding["yOffset"] = offset
        subset = marks.filter(pl.col("kind") == kind)
        if not subset.is_empty():
            layers.append(alt.Chart(subset).mark_point(**point).encode(**encoding))
    if not side.is_empty():
        layers.append(
            alt.Chart(side)
            .mark_text(align="left", baseline="middle", dx=9, fontSize=11, color="#555555")
            .encode(x=alt.X("side_flops:Q", scale=x_scale, axis=x_axis), y=y, text="side_label:N")
        )
    if not non_numeric.is_empty():
        layers.append(
            alt.Chart(non_numeric)
            .mark_text(
                align="left",
                baseline="middle",
                dx=6,
                fontSize=12,
                fontStyle="italic",
                color="#555555",
            )
            .encode(x=alt.value(0), y=y, text=alt.value("Many (non-numeric)"), tooltip=tooltip)
        )
    n_rows = len(order)
    title = chart_title(
        "Table 1 · Emergent abilities of large language models",
        f"{n_rows} abilities (Wei et al. 2022, Table 1): the smallest training compute at "
        "which each was reported above random, with the model family and size; the lake's "
        "recomputed scale sits beside it where the lake holds the curve.",
        width=92,
    )
    chart = alt.layer(*layers).properties(
        width=TABLE1_WIDTH, height=TABLE1_ROW_HEIGHT * n_rows, title=title
    )
    return configure(chart)


def table1_caption(table1: pl.DataFrame) -> str:
    """How many abilities the lake recomputes and how many agree, counted from the rows."""
    require(table1, TABLE1_COLUMNS, "table1")
    computed = table1.filter(pl.col("computed_flops").is_not_null())
    agree = computed.filter(pl.col("agrees").fill_null(False)).height
    disagree = computed.filter(~pl.col("agrees").fill_null(True)).height
    return (
        f"{table1.height} abilities as Wei et al. (2022) report them; the lake recomputes "
        f"{computed.height} from its own curves: {agree} agree, {disagree} disagree."
    )
