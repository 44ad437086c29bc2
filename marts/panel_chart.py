"""One Wei et al. (2022) panel (Figures 2 and 3) as an Altair chart, and its caption.

Plain functions of polars frames shaped from the warehouse (`results_with_scale` points and
`emergence` rows), so the Dagster assets stay thin and tests need no instance. The chart follows
the paper (training FLOPs on a log axis, a dashed random line) and adds what a static figure
cannot: each emergent series' scale as a labelled rule, tooltips with the citation behind every
point, a legend that highlights a family on click, and notes computed from the data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import altair as alt
import polars as pl

from marts.chart_style import (
    BASELINE_COLOUR,
    PANEL_WIDTH,
    PLOT_HEIGHT,
    chart_title,
    configure,
    decade_axis,
    log_domain,
    notes_chart,
    require,
    wrap,
)
from marts.number_format import drawable_scale, format_flops, format_params
from marts.palette import family_colour

ScaleAxis = Literal["train_flops", "params"]

# Emergence labels sit in rows above the plot: row height, and the width of a character of the
# bold 12 px label (DejaVu Sans Bold averages about 7.5 px; a little more keeps labels apart).
RULE_LABEL_ROW_PX = 16
LABEL_CHAR_PX = 7.8
LABEL_GAP_PX = 5  # between a rule and its label
LABEL_CLEARANCE_PX = 6  # between two labels, or a label and another rule
# Names that mark the comparison (no-method) series of an augmented-prompting panel.
BASELINE_SERIES_WORDS = ("standard", "baseline", "no ", "without", "letter choices")
# Opacity of the series not picked in the legend.
FADED = 0.12

CLASSIFICATION_TEXT = {
    "emergent": "emergent",
    "smooth": "smooth, not emergent",
    "never_above_random": "never above random",
    "too_few_points": "too few points to tell",
    "no_baseline": "no random baseline to compare with",
}
AXIS_TEXT = {"train_flops": "training FLOPs", "params": "parameters"}

POINT_COLUMNS = (
    "series",
    "family",
    "model_id",
    "label",
    "train_flops",
    "params",
    "value",
    "unit",
    "citation",
    "location",
    "setting",
)
EMERGENCE_COLUMNS = (
    "series",
    "classification",
    "emergent_flops",
    "emergent_params",
    "crossing_flops",
    "emergent_model_label",
)
EMERGENT_FIELDS = ("emergent_flops", "emergent_params", "crossing_flops", "emergent_model_label")


@dataclass(frozen=True)
class FamilyGapNote:
    """A note that holds only while the lake has few models of a family in the panel.

    'The smaller Gopher sizes are figure-only' is true of today's sources, not forever: once a
    user adds them, the note must go, so it is shown only while the family has at most
    `max_models` models in the panel.
    """

    family: str
    text: str
    max_models: int = 1


@dataclass(frozen=True)
class PanelSpec:
    """What a panel shows, in words: the chart cannot be read without task, setting and metric."""

    panel_id: str
    title: str
    subtitle: str
    y_title: str
    notes: tuple[str, ...] = ()
    baseline_label: str = "Random"
    gap_notes: tuple[FamilyGapNote, ...] = ()


# --------------------------------------------------------------------------------------------
# Colours.
# --------------------------------------------------------------------------------------------


def _mix_with_white(colour: str, share: float) -> str:
    """A lighter tint of `colour`, for the comparison series of the same family."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    r, g, b = (round(c + (255 - c) * share) for c in (r, g, b))
    return f"#{r:02x}{g:02x}{b:02x}"


def _is_baseline_series(series: str) -> bool:
    """'LaMDA · standard' is the comparison line of an augmented-prompting panel."""
    lowered = series.lower()
    return any(word in lowered for word in BASELINE_SERIES_WORDS)


def series_colours(series_family: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Colour per series: its family's fixed colour (marts/palette.py); a family's comparison or
    second series gets a lighter tint, so a reader can follow PaLM from Fig. 2 to Fig. 3."""
    by_family: dict[str, list[str]] = {}
    for series, family in series_family:
        if series not in by_family.setdefault(family, []):
            by_family[family].append(series)
    colours: dict[str, str] = {}
    for family, members in by_family.items():
        ordered = sorted(members, key=lambda s: (_is_baseline_series(s), s))
        for rank, series in enumerate(ordered):
            base = family_colour(family)
            colours[series] = (
                base if rank == 0 else _mix_with_white(base, min(0.25 + 0.2 * rank, 0.7))
            )
    return colours


# --------------------------------------------------------------------------------------------
# Emergence rows and the words around them.
# --------------------------------------------------------------------------------------------


def emergence_rows(emergence: pl.DataFrame) -> list[dict]:
    """Emergence rows sorted by scale. Only an emergent series keeps an emergent scale and model:
    a smooth series' first-above-random model is not an emergent scale, and showing it as one
    would blur the distinction the chart exists to show."""
    if emergence.is_empty():
        return []
    require(emergence, EMERGENCE_COLUMNS, "emergence")
    rows = []
    for row in emergence.sort("emergent_flops", "emergent_params", nulls_last=True).iter_rows(
        named=True
    ):
        if row["classification"] != "emergent":
            row = {**row, **dict.fromkeys(EMERGENT_FIELDS)}
        rows.append(row)
    return rows


def _rule_scale(row: dict, axis: ScaleAxis) -> float | None:
    return row["emergent_flops"] if axis == "train_flops" else row["emergent_params"]


def _rule_rows(rows: Sequence[dict], axis: ScaleAxis) -> list[dict]:
    """Series that get a vertical rule: classified emergent, with a scale on the panel's axis."""
    ruled = [r for r in rows if drawable_scale(_rule_scale(r, axis))]
    return sorted(ruled, key=lambda r: _rule_scale(r, axis))


def _emergence_label(row: dict) -> str:
    """'PaLM: 540B' (or '≈2.3×10²² FLOPs' when the parameter count is unknown)."""
    if row.get("emergent_params") is not None:
        return f"{row['series']}: {format_params(row['emergent_params'])}"
    return f"{row['series']}: ≈{format_flops(row['emergent_flops'])} FLOPs"


def _emergence_tooltip(row: dict) -> str:
    """One-line description of an emergence rule, shown on hover."""
    parts = [f"{row['series']}: emergent"]
    if row.get("emergent_flops") is not None:
        parts.append(f"emergent scale {format_flops(row['emergent_flops'])} FLOPs")
    if row.get("emergent_params") is not None:
        parts.append(f"{format_params(row['emergent_params'])} params")
    if row.get("emergent_model_label"):
        parts.append(f"first model above random: {row['emergent_model_label']}")
    if row.get("crossing_flops") is not None:
        parts.append(f"interpolated crossing ≈{format_flops(row['crossing_flops'])} FLOPs")
    return "; ".join(parts)


def _classification(row: dict) -> str:
    return CLASSIFICATION_TEXT.get(row["classification"], row["classification"])


def _emergence_notes(
    rows: Sequence[dict], series_present: Sequence[str], axis: ScaleAxis
) -> list[str]:
    """Say in words what the rules cannot: scales off the axis and series without a scale."""
    notes: list[str] = []
    ruled = {r["series"] for r in _rule_rows(rows, axis)}
    off_axis = [r for r in rows if r["classification"] == "emergent" and r["series"] not in ruled]
    for row in off_axis:
        scale = (
            f"{format_params(row['emergent_params'])} params"
            if row["emergent_params"] is not None
            else f"≈{format_flops(row['emergent_flops'])} FLOPs"
            if row["emergent_flops"] is not None
            else "an unknown scale"
        )
        notes.append(
            f"{row['series']}: emergent at {scale} ({AXIS_TEXT[axis]} unknown, so no rule is drawn)."
        )
    present = [r for r in rows if r["series"] in series_present]
    smooth = [r["series"] for r in present if r["classification"] == "smooth"]
    if smooth:
        notes.append(f"Above random without a sharp jump (smooth, no rule): {', '.join(smooth)}.")
    without = [
        f"{r['series']} ({_classification(r)})"
        for r in present
        if r["classification"] not in ("emergent", "smooth")
    ]
    if without:
        notes.append(f"No emergent scale: {', '.join(without)}.")
    return notes


def _missing_note(missing: pl.DataFrame, axis: ScaleAxis) -> str | None:
    """Name every model that has a result but no place on the axis, so nothing disappears silently."""
    if missing.is_empty():
        return None
    models = (
        missing.group_by("label", maintain_order=True)
        .agg(pl.col("params").first(), pl.col("series").unique(maintain_order=True))
        .sort("params", nulls_last=True)
    )
    names = [
        f"{row['label']} ({format_params(row['params'])} params)"
        if axis == "train_flops"
        else row["label"]
        for row in models.iter_rows(named=True)
    ]
    series = sorted({s for row in models.iter_rows(named=True) for s in row["series"]})
    return (
        f"Not drawn, {AXIS_TEXT[axis]} unknown ({len(names)} model{'s' if len(names) != 1 else ''}, "
        f"series {', '.join(series)}): {', '.join(names)}."
    )


def _gap_notes(points: pl.DataFrame, gap_notes: Sequence[FamilyGapNote]) -> list[str]:
    """The gap notes that still hold: the family has at most `max_models` models in the panel."""
    counts = dict(points.group_by("family").agg(pl.col("model_id").n_unique()).iter_rows())
    return [g.text for g in gap_notes if counts.get(g.family, 0) <= g.max_models]


def who_is_drawn(points: pl.DataFrame) -> str:
    """The subtitle's 'who': curated families by name, ObsScaling's open models as one group,
    lm-eval results and the lake's own evaluations by family, all read from the points, so adding a family updates it."""
    origin = points.get_column("origin") if "origin" in points.columns else None
    frame = points.with_columns(
        origin=origin if origin is not None else pl.lit("literature", dtype=pl.String)
    )

    def families(which: str) -> list[str]:
        rows = frame.filter(pl.col("origin") == which).get_column("family")
        return rows.unique(maintain_order=True).to_list()

    parts = []
    if curated := families("literature"):
        parts.append(", ".join(curated))
    if obsscaling := families("obsscaling"):
        parts.append(
            f"ObsScaling open models ({len(obsscaling)} famil{'y' if len(obsscaling) == 1 else 'ies'})"
        )
    if lmeval := families("lmeval"):
        parts.append(f"lm-eval results of {', '.join(lmeval)}")
    if fresh := families("fresh"):
        parts.append(f"the lake's evaluations of {', '.join(fresh)}")
    return "; ".join(parts)


def _sources_note(points: pl.DataFrame) -> str:
    """The citations behind the points, for readers of the PNG (the HTML has them per point)."""
    citations: list[str] = []
    for cell in points.get_column("citation").drop_nulls().to_list():
        for citation in (c.strip() for c in cell.split(";")):
            if citation and citation not in citations:
                citations.append(citation)
    return f"Source{'s' if len(citations) != 1 else ''}: {'; '.join(citations)}."


# --------------------------------------------------------------------------------------------
# The scale axis.
# --------------------------------------------------------------------------------------------


def _on_axis(axis: ScaleAxis) -> pl.Expr:
    column = pl.col(axis)
    return column.is_not_null() & column.is_finite() & (column > 0)


def choose_scale_axis(points: pl.DataFrame) -> ScaleAxis:
    """Training FLOPs, the paper's axis, unless a series has no model with FLOPs while it has
    parameters (GPT-2: no published token count, so no FLOPs): then the whole panel goes on
    parameters, the paper's alternative axis, and says so, rather than dropping that series."""
    per_series = points.group_by("series").agg(
        flops=_on_axis("train_flops").sum(), params=_on_axis("params").sum()
    )
    lost = per_series.filter((pl.col("flops") == 0) & (pl.col("params") > 0))
    return "params" if lost.height else "train_flops"


def _axis_note(points: pl.DataFrame, axis: ScaleAxis) -> str | None:
    if axis == "train_flops":
        return None
    without = (
        points.group_by("series", maintain_order=True)
        .agg(_on_axis("train_flops").sum().alias("n"))
        .filter(pl.col("n") == 0)["series"]
        .to_list()
    )
    return (
        f"Drawn on parameters, not training FLOPs: {', '.join(without)} "
        f"{'has' if len(without) == 1 else 'have'} no training FLOPs (no published token count)."
    )


# --------------------------------------------------------------------------------------------
# Emergence rules and their labels.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelPlace:
    """Where a rule's label goes: `row` 0 is just above the plot; `left` puts the text left of the rule."""

    row: int
    left: bool
    x0: float  # the text's extent in pixels
    x1: float


def layout_rule_labels(
    xs: Sequence[float], widths: Sequence[float], lo: float = 0.0, hi: float = PANEL_WIDTH
) -> list[LabelPlace]:
    """Place one label per rule (at pixel `xs`) in rows above the plot so that no two labels
    overlap and no rule crosses another label.

    A rule runs from the plot up to its own label's row, so a label that spans another rule's x
    must sit in a higher row than that rule's label. Each label goes left of its rule where it
    fits inside the plot (else right); each label goes in the lowest row above the labels of the
    rules it spans where it overlaps no other label.
    """
    n = len(xs)
    pad = LABEL_CLEARANCE_PX

    def extent(i: int, left: bool) -> tuple[float, float]:
        if left:
            return xs[i] - LABEL_GAP_PX - widths[i], xs[i] - LABEL_GAP_PX
        return xs[i] + LABEL_GAP_PX, xs[i] + LABEL_GAP_PX + widths[i]

    def fits(i: int, left: bool) -> bool:
        x0, x1 = extent(i, left)
        return x0 >= lo and x1 <= hi

    left = [fits(i, True) or not fits(i, False) for i in range(n)]

    def covers(i: int, j: int) -> bool:
        """Label i runs over rule j (a rule beyond label i's own rule does not)."""
        x0, x1 = extent(i, left[i])
        beside = xs[j] < xs[i] if left[i] else xs[j] > xs[i]
        return i != j and beside and x0 - pad < xs[j] < x1 + pad

    # Place a label after every rule it spans. Left-side labels only span rules to their left,
    # so with all labels on the left there is always an order; a right-side label (near the
    # y axis) can close a cycle, and is then turned left, into the margin, rather than collide.
    while True:
        below = {i: [j for j in range(n) if covers(i, j)] for i in range(n)}
        order: list[int] = []
        waiting = sorted(range(n), key=lambda i: xs[i])
        while waiting:
            ready = next((i for i in waiting if all(j in order for j in below[i])), None)
            if ready is None:
                break
            order.append(ready)
            waiting.remove(ready)
        if not waiting:
            break
        left[next(i for i in waiting if not left[i])] = True
    rows: dict[int, int] = {}
    for i in order:
        row = 1 + max((rows[j] for j in below[i] if j in rows), default=-1)
        x0, x1 = extent(i, left[i])

        def overlaps(k: int, row: int = row, x0: float = x0, x1: float = x1) -> bool:
            k0, k1 = extent(k, left[k])
            return rows[k] == row and x0 < k1 + pad and k0 < x1 + pad

        while any(overlaps(k, row) for k in rows):
            row += 1
        rows[i] = row
    return [LabelPlace(rows[i], left[i], *extent(i, left[i])) for i in range(n)]


def _label_width_px(text: str) -> float:
    return LABEL_CHAR_PX * len(text)


def _emergence_layers(
    rule_rows: Sequence[dict], domain: tuple[float, float], axis: ScaleAxis
) -> list[alt.Chart]:
    """A vertical rule per emergent series, in its colour, labelled in rows above the plot
    (never over the points), laid out so that no two labels and no label and rule collide."""
    log_lo, log_hi = (math.log10(d) for d in domain)
    scales = [_rule_scale(r, axis) for r in rule_rows]
    xs = [(math.log10(s) - log_lo) / (log_hi - log_lo) * PANEL_WIDTH for s in scales]
    texts = [_emergence_label(r) for r in rule_rows]
    places = layout_rule_labels(xs, [_label_width_px(t) for t in texts])
    layers: list[alt.Chart] = []
    for row, scale, text, place in zip(rule_rows, scales, texts, places, strict=True):
        tip = alt.value(_emergence_tooltip(row))
        text_bottom = -6 - RULE_LABEL_ROW_PX * place.row
        layers.append(
            alt.Chart()
            .mark_rule(strokeWidth=2, opacity=0.85)
            .encode(
                x=alt.datum(scale),
                y=alt.value(text_bottom - 13),
                y2=alt.value(PLOT_HEIGHT),
                color=alt.datum(row["series"]),
                tooltip=tip,
            )
        )
        layers.append(
            alt.Chart()
            .mark_text(
                align="right" if place.left else "left",
                baseline="bottom",
                dx=-LABEL_GAP_PX if place.left else LABEL_GAP_PX,
                fontSize=12,
                fontWeight="bold",
            )
            .encode(
                x=alt.datum(scale),
                y=alt.value(text_bottom),
                text=alt.datum(text),
                color=alt.datum(row["series"]),
                tooltip=tip,
            )
        )
    return layers


# --------------------------------------------------------------------------------------------
# The panel.
# --------------------------------------------------------------------------------------------


def _value_domain(
    drawable: pl.DataFrame, random_level: float | None, from_zero: bool
) -> list[float]:
    """Y domain over the data and the random level, with a little room above the top point."""
    values = drawable.get_column("value").to_list() + (
        [random_level] if random_level is not None else []
    )
    lo, hi = min(values), max(values)
    if from_zero:
        lo = min(lo, 0.0)
    span = (hi - lo) or max(abs(hi), 1.0)
    top = hi + 0.04 * span
    if from_zero and hi <= 100 < top:
        top = 100.0  # a percent axis that runs past 100 reads as an error
    return [lo, top]


def _typed(points: pl.DataFrame) -> pl.DataFrame:
    return points.with_columns(
        pl.col("train_flops").cast(pl.Float64),
        pl.col("params").cast(pl.Float64),
        pl.col("value").cast(pl.Float64),
    )


def panel_chart(
    points: pl.DataFrame,
    emergence: pl.DataFrame,
    spec: PanelSpec,
    random_level: float | None,
    predictions: pl.DataFrame | None = None,
) -> alt.TopLevelMixin:
    """One Wei et al. panel: metric vs training FLOPs (log), a line per series, random and emergence rules.

    `predictions` (marts/backtests.py `panel_predictions`): each series' extrapolation from the
    models below its cutoff, drawn dashed with its band.

    Points that cannot sit on the axis are listed in a note instead of dropped.
    """
    require(points, POINT_COLUMNS, "points")
    if points.is_empty():
        return empty_panel_chart(
            spec, "No results in the warehouse for this task, setting and metric."
        )

    points = _typed(points)
    axis = choose_scale_axis(points)
    drawable = points.filter(_on_axis(axis))
    rows = emergence_rows(emergence)

    notes: list[str] = [*spec.notes, *_gap_notes(points, spec.gap_notes)]
    for note in (_axis_note(points, axis), _missing_note(points.filter(~_on_axis(axis)), axis)):
        if note:
            notes.append(note)
    notes.extend(_emergence_notes(rows, points.get_column("series").unique().to_list(), axis))
    notes.append(_sources_note(points))

    if drawable.is_empty():
        return empty_panel_chart(
            spec,
            "No model in this panel has known training FLOPs or parameters, so nothing can be "
            "placed on a scale axis.",
            extra_notes=tuple(notes[len(spec.notes) :]),
        )

    series_family = list(
        points.select("series", "family").unique(subset="series", maintain_order=True).iter_rows()
    )
    known_series = {s for s, _ in series_family}
    series_family += [
        (r["series"], r["series"].split(" · ")[0]) for r in rows if r["series"] not in known_series
    ]
    colours = series_colours(series_family)
    series_order = sorted(colours, key=lambda s: (s.split(" · ")[0], _is_baseline_series(s), s))
    colour_scale = alt.Scale(domain=series_order, range=[colours[s] for s in series_order])

    rule_rows = _rule_rows(rows, axis)
    domain = log_domain(
        drawable.get_column(axis).to_list() + [_rule_scale(r, axis) for r in rule_rows]
    )
    x_scale = alt.Scale(type="log", domain=list(domain), nice=False)
    x_title = "Training FLOPs (log scale)" if axis == "train_flops" else "Parameters (log scale)"
    x_axis = decade_axis(domain, x_title)

    drawable = drawable.with_columns(
        params_text=pl.col("params").map_elements(format_params, return_dtype=pl.String),
        flops_text=pl.when(_on_axis("train_flops"))
        .then(pl.col("train_flops").map_elements(lambda f: f"{f:.3g}", return_dtype=pl.String))
        .otherwise(pl.lit("unknown")),
    ).sort("series", axis)

    y_zero = drawable.get_column("unit").drop_nulls().is_in(["percent", "bleu"]).all() and (
        drawable.get_column("value").min() >= 0
    )
    y_scale = alt.Scale(domain=_value_domain(drawable, random_level, bool(y_zero)), nice=True)
    x = alt.X(f"{axis}:Q", scale=x_scale, axis=x_axis)
    y = alt.Y("value:Q", scale=y_scale, title=spec.y_title, axis=alt.Axis(labelFontSize=12))
    colour = alt.Color(
        "series:N",
        scale=colour_scale,
        legend=alt.Legend(
            title=None,
            orient="top",
            direction="horizontal",
            columns=4,
            symbolStrokeWidth=3,
            offset=4,
            symbolLimit=0,  # every series (Vega cuts at 30 with '…N entries' otherwise)
        ),
    )
    # Clicking a family in the legend highlights its series (shift-click adds another).
    highlight = alt.selection_point(name="highlight", fields=["series"], bind="legend")
    opacity = alt.condition(highlight, alt.value(1.0), alt.value(FADED))
    base = alt.Chart(drawable).encode(x=x, y=y, color=colour, opacity=opacity)
    lines = base.mark_line(strokeWidth=2.5).add_params(highlight)
    markers = base.mark_point(filled=True, size=70).encode(
        tooltip=[
            alt.Tooltip("label:N", title="Model"),
            alt.Tooltip("series:N", title="Series"),
            alt.Tooltip("params_text:N", title="Parameters"),
            alt.Tooltip("flops_text:N", title="Training FLOPs"),
            alt.Tooltip("value:Q", title="Value", format=".4~g"),
            alt.Tooltip("unit:N", title="Unit"),
            alt.Tooltip("setting:N", title="Setting"),
            alt.Tooltip("citation:N", title="Citation"),
            alt.Tooltip("location:N", title="Location"),
        ]
    )
    layers: list[alt.Chart] = [lines, markers]

    if random_level is not None:
        layers.append(
            alt.Chart()
            .mark_rule(strokeDash=[6, 4], color=BASELINE_COLOUR, strokeWidth=1.5)
            .encode(
                y=alt.datum(float(random_level)),
                tooltip=alt.value(f"{spec.baseline_label}: {random_level:g}"),
            )
        )
        layers.append(
            alt.Chart()
            .mark_text(align="left", baseline="middle", dx=6, fontSize=12, color=BASELINE_COLOUR)
            # In the right margin, at the end of the line: inside the plot it would cover data.
            .encode(
                x=alt.datum(domain[1]),
                y=alt.datum(float(random_level)),
                text=alt.datum(f"{spec.baseline_label} ({random_level:.4g})"),
            )
        )

    layers.extend(_emergence_layers(rule_rows, domain, axis))
    layers.extend(_prediction_layers(predictions, axis, x, colour))

    plot = alt.layer(*layers).properties(width=PANEL_WIDTH, height=PLOT_HEIGHT)
    chart = alt.vconcat(
        plot,
        notes_chart(wrap(notes), PANEL_WIDTH),
        spacing=14,
        title=chart_title(spec.title, f"{spec.subtitle} — {who_is_drawn(points)}"),
    )
    return configure(chart)


def _prediction_layers(
    predictions: pl.DataFrame | None, axis: ScaleAxis, x: alt.X, colour: alt.Color
) -> list[alt.Chart]:
    """Backtest predictions (issue 10): a dashed line per series from its cutoff, and a band."""
    if predictions is None or predictions.is_empty():
        return []
    frame = predictions.filter(_on_axis(axis)).sort("series", axis)
    base = alt.Chart(frame).encode(x=x, color=colour)
    band = base.mark_area(opacity=0.12, clip=True).encode(y="band_low:Q", y2="band_high:Q")
    line = base.mark_line(strokeDash=[5, 4], strokeWidth=1.8, clip=True).encode(
        y="predicted:Q",
        tooltip=[
            alt.Tooltip("series:N", title="Series"),
            alt.Tooltip("predicted:Q", title="Predicted from smaller models", format=".3~g"),
        ],
    )
    return [band, line]


def empty_panel_chart(
    spec: PanelSpec, reason: str, extra_notes: Sequence[str] = ()
) -> alt.TopLevelMixin:
    """A framed message instead of an empty axis, so a missing panel reads as missing, not as zero."""
    reason_lines = wrap([reason], width=80)
    height = 150
    line_height = 20
    top = height / 2 - line_height * len(reason_lines) / 2
    frame = pl.DataFrame(
        {
            "y_px": [top + line_height * (i + 1) for i in range(len(reason_lines))],
            "text": reason_lines,
        }
    )
    view = alt.ViewBackground(stroke="#999999", strokeWidth=1.5, strokeDash=[5, 3], fill="#fafafa")
    heading = (
        alt.Chart()
        .mark_text(
            align="center", baseline="middle", fontSize=16, fontWeight="bold", color="#333333"
        )
        .encode(
            x=alt.value(PANEL_WIDTH / 2),
            y=alt.value(top - 2),
            text=alt.value("No data for this panel"),
        )
    )
    body = (
        alt.Chart(frame)
        .mark_text(align="center", baseline="middle", fontSize=13, color="#333333")
        .encode(x=alt.value(PANEL_WIDTH / 2), y=alt.Y("y_px:Q", scale=None), text="text:N")
    )
    box = alt.layer(heading, body).properties(width=PANEL_WIDTH, height=height, view=view)
    notes = wrap([*spec.notes, *extra_notes])
    title = chart_title(spec.title, spec.subtitle)
    if notes:
        chart = alt.vconcat(box, notes_chart(notes, PANEL_WIDTH), spacing=14, title=title)
    else:
        chart = box.properties(title=title)
    return configure(chart)


# --------------------------------------------------------------------------------------------
# Caption (for the gallery): computed from the same frames, so it can never go stale.
# --------------------------------------------------------------------------------------------


def panel_caption(points: pl.DataFrame, emergence: pl.DataFrame) -> str:
    """What the panel shows, in one or two sentences computed from its data."""
    if points.is_empty():
        return "No results in the warehouse for this task, setting and metric."
    points = _typed(points)
    n_models = points.get_column("model_id").n_unique()
    n_series = points.get_column("series").n_unique()
    rows = emergence_rows(emergence)
    emergent = [
        f"{r['series']} at {format_params(r['emergent_params'])}"
        if r["emergent_params"] is not None
        else f"{r['series']} at ≈{format_flops(r['emergent_flops'])} FLOPs"
        for r in rows
        if r["classification"] == "emergent"
    ]
    sentence = f"{n_models} model{'s' if n_models != 1 else ''} in {n_series} series. "
    if emergent:
        return sentence + f"Emergent: {', '.join(emergent)}."
    return sentence + "No series is classified emergent."
