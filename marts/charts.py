"""Altair charts for the emergence lake: one per Wei et al. (2022) panel, plus Table 1.

Plain functions of polars frames shaped from the warehouse (`results` joined with `models` and
`task_metrics`, `emergence`, `table1`), so the Dagster assets stay thin and tests need no instance.
The charts follow the paper's conventions (training FLOPs on a log axis, a dashed random line) and
add what a static figure cannot: the emergent scale as a rule per series, tooltips with the
citation behind every point, and notes that say what was left out and why.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import altair as alt
import polars as pl

# Plot width in pixels; axis, margin labels and padding bring a panel to about 720 px
# (the PNG is rendered at twice this).
PANEL_WIDTH = 540
PLOT_HEIGHT = 320
TABLE1_WIDTH = 340
TABLE1_ROW_HEIGHT = 24
# yOffset values count from the top of a row's band: half a row is its centre line.
RECOMPUTED_OFFSET_PX = TABLE1_ROW_HEIGHT / 2 + 7
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

# Stable colour per model family, so PaLM is the same colour in every panel (Tableau 10).
FAMILY_COLOURS: dict[str, str] = {
    "GPT-3": "#4e79a7",
    "LaMDA": "#f28e2b",
    "Gopher": "#59a14f",
    "Chinchilla": "#b07aa1",
    "PaLM": "#e15759",
    "Anthropic": "#9c755f",
    "FLAN": "#76b7b2",
    "T5": "#ff9da7",
    "EleutherAI": "#b6992d",
    "Pythia": "#b6992d",
    "UL2": "#79706e",
    "GPT": "#1f4e79",
    "Codex": "#8c564b",
}
# For families not listed above (ObsScaling panels have a dozen): d3's category20, dark shades
# first, less the olive that is too close to Pythia's.
SPARE_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
    "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
)  # fmt: skip
# Up to this many emergence rules are labelled on the chart; more go into a note.
MAX_RULE_LABELS = 5
RULE_LABEL_ROW_PX = 16
# Names that mark the comparison (no-method) series of an augmented-prompting panel.
BASELINE_SERIES_WORDS = ("standard", "baseline", "no ", "without", "letter choices")

CLASSIFICATION_TEXT = {
    "emergent": "emergent",
    "smooth": "smooth, not emergent",
    "never_above_random": "never above random",
    "too_few_points": "too few points to tell",
    "no_baseline": "no random baseline to compare with",
}

SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")

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


@dataclass(frozen=True)
class PanelSpec:
    """What a panel shows, in words: the chart cannot be read without task, setting and metric."""

    panel_id: str
    title: str
    subtitle: str
    y_title: str
    notes: tuple[str, ...] = ()
    baseline_label: str = "Random"


# --------------------------------------------------------------------------------------------
# Formatting: numbers as a reader of the paper expects them ('540B', '2.5×10²⁴').
# --------------------------------------------------------------------------------------------


def format_params(params: float | None) -> str:
    """Parameter count as printed in papers ('540B', '62.5B', '422M'), three significant digits."""
    if params is None or not math.isfinite(params) or params <= 0:
        return "?"
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if params >= scale:
            return f"{_significant(params / scale)}{suffix}"
    return _significant(params)


def format_flops(flops: float | None) -> str:
    """Training FLOPs in the paper's notation ('2.5×10²⁴'), two significant digits."""
    if flops is None or not math.isfinite(flops) or flops <= 0:
        return "?"
    exponent = math.floor(math.log10(flops))
    mantissa = flops / 10**exponent
    if round(mantissa, 1) >= 10:
        exponent, mantissa = exponent + 1, mantissa / 10
    power = f"10{str(exponent).translate(SUPERSCRIPT)}"
    text = f"{mantissa:.1f}".rstrip("0").rstrip(".")
    return power if text == "1" else f"{text}×{power}"


def _significant(value: float) -> str:
    """Up to three significant digits, no trailing zeros (540.35 -> '540', 8.63 -> '8.63')."""
    digits = max(0, 2 - math.floor(math.log10(value))) if value > 0 else 0
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"


def _drawable_flops(value: float | None) -> bool:
    """A log axis can only place finite, positive FLOPs."""
    return value is not None and math.isfinite(value) and value > 0


def _wrap(lines: Iterable[str], width: int = NOTE_WRAP_CHARS) -> list[str]:
    """Vega text does not wrap, so notes are wrapped here, keeping explicit paragraphs."""
    out: list[str] = []
    for line in lines:
        out.extend(textwrap.wrap(line, width=width, subsequent_indent="  ") or [""])
    return out


def _require(frame: pl.DataFrame, columns: Sequence[str], what: str) -> None:
    """Fail with the missing column names, not a KeyError deep inside Altair."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} frame lacks columns {missing}; expected {list(columns)}, found {frame.columns}"
        )


# --------------------------------------------------------------------------------------------
# Shared look.
# --------------------------------------------------------------------------------------------


def _title(spec: PanelSpec) -> alt.TitleParams:
    """Title + subtitle naming the exact task, setting and metric."""
    return alt.TitleParams(
        text=spec.title,
        subtitle=_wrap([spec.subtitle], width=90),
        anchor="start",
        fontSize=16,
        subtitleFontSize=12.5,
        subtitleColor="#333333",
        offset=10,
    )


def _configure(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """Legible fonts at PNG scale 2 and a white background (PNG viewers show transparency)."""
    return (
        chart.configure(font=FONT, background="white", padding=12)
        .configure_axis(
            labelFontSize=12, titleFontSize=13, titleFontWeight="normal", gridColor="#e6e6e6"
        )
        .configure_legend(labelFontSize=12, titleFontSize=12, labelLimit=320, symbolSize=80)
        .configure_view(stroke="#bbbbbb")
    )


def _notes_chart(lines: Sequence[str], width: int) -> alt.Chart:
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


# --------------------------------------------------------------------------------------------
# Panel chart (Figures 2 and 3).
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
    """Colour per series: its family's colour; a family's comparison series gets a lighter tint.

    Keeping the family colour stable across panels lets a reader follow PaLM from Fig. 2 to 3.
    """
    used: set[str] = set()
    family_colour: dict[str, str] = {}
    for _, family in series_family:
        if family not in family_colour and family in FAMILY_COLOURS:
            family_colour[family] = FAMILY_COLOURS[family]
            used.add(FAMILY_COLOURS[family])
    spare = [c for c in SPARE_COLOURS if c not in used]
    for _, family in series_family:
        if family not in family_colour:
            # Past 20 families colours repeat; the legend and tooltips still tell them apart.
            family_colour[family] = spare[len(family_colour) % len(spare)] if spare else "#333333"
    by_family: dict[str, list[str]] = {}
    for series, family in series_family:
        by_family.setdefault(family, []).append(series)
    colours: dict[str, str] = {}
    for family, members in by_family.items():
        ordered = sorted(members, key=lambda s: (_is_baseline_series(s), s))
        for rank, series in enumerate(ordered):
            colours[series] = (
                family_colour[family]
                if rank == 0
                else _mix_with_white(family_colour[family], min(0.25 + 0.2 * rank, 0.7))
            )
    return colours


def _log_domain(values: Sequence[float]) -> tuple[float, float]:
    """Whole decades around the data, with room so edge points are not cut in half."""
    lo = math.floor(math.log10(min(values) / 1.4))
    hi = math.ceil(math.log10(max(values) * 1.4))
    if hi <= lo:
        hi = lo + 1
    return 10.0**lo, 10.0**hi


def _decade_axis(domain: tuple[float, float], title: str) -> alt.Axis:
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


def _missing_flops_note(missing: pl.DataFrame) -> str | None:
    """Name every model that has a result but no FLOPs, so nothing disappears silently."""
    if missing.is_empty():
        return None
    models = (
        missing.group_by("label", maintain_order=True)
        .agg(pl.col("params").first(), pl.col("series").unique(maintain_order=True))
        .sort("params", nulls_last=True)
    )
    names = [
        f"{row['label']} ({format_params(row['params'])} params)"
        for row in models.iter_rows(named=True)
    ]
    series = sorted({s for row in models.iter_rows(named=True) for s in row["series"]})
    return (
        f"Not drawn, training FLOPs unknown ({len(names)} model{'s' if len(names) != 1 else ''}, "
        f"series {', '.join(series)}): {', '.join(names)}."
    )


def _emergence_rows(emergence: pl.DataFrame) -> list[dict]:
    """Emergence rows sorted by scale; a frame without the columns is treated as empty."""
    if emergence.is_empty():
        return []
    _require(emergence, EMERGENCE_COLUMNS, "emergence")
    return list(emergence.sort("emergent_flops", nulls_last=True).iter_rows(named=True))


def _emergence_label(row: dict) -> str:
    """'PaLM: 540B' (or '≈2.3×10²² FLOPs' when the parameter count is unknown)."""
    if row.get("emergent_params") is not None:
        return f"{row['series']}: {format_params(row['emergent_params'])}"
    return f"{row['series']}: ≈{format_flops(row['emergent_flops'])} FLOPs"


def _emergence_tooltip(row: dict) -> str:
    """One-line description of an emergence rule, shown on hover."""
    parts = [
        f"{row['series']}: {CLASSIFICATION_TEXT.get(row['classification'], row['classification'])}",
        f"emergent scale {format_flops(row['emergent_flops'])} FLOPs",
    ]
    if row.get("emergent_params") is not None:
        parts.append(f"{format_params(row['emergent_params'])} params")
    if row.get("emergent_model_label"):
        parts.append(f"first model above random: {row['emergent_model_label']}")
    if row.get("crossing_flops") is not None:
        parts.append(f"interpolated crossing ≈{format_flops(row['crossing_flops'])} FLOPs")
    return "; ".join(parts)


def _rule_rows(rows: Sequence[dict]) -> list[dict]:
    """Series that get a vertical rule: classified emergent, with a scale on the FLOPs axis.

    A 'smooth' series also has a first-above-random scale, but it is not an emergent scale;
    drawing it like one would blur the distinction the chart exists to show.
    """
    return [
        r
        for r in rows
        if r["classification"] == "emergent" and _drawable_flops(r["emergent_flops"])
    ]


def _emergence_notes(
    rows: Sequence[dict], series_present: Sequence[str], labelled_on_chart: bool
) -> list[str]:
    """Say in words what the rules cannot: scales without FLOPs and series without a scale."""
    notes: list[str] = []
    ruled = _rule_rows(rows)
    if ruled and not labelled_on_chart:
        scales = ", ".join(
            f"{r['series']} {format_params(r['emergent_params'])} (≈{format_flops(r['emergent_flops'])})"
            if r["emergent_params"] is not None
            else f"{r['series']} ≈{format_flops(r['emergent_flops'])}"
            for r in ruled
        )
        notes.append(f"Emergent scales (vertical rules, by colour): {scales}.")
    emergent_no_flops = [
        r
        for r in rows
        if r["classification"] == "emergent"
        and not _drawable_flops(r["emergent_flops"])
        and r["emergent_params"] is not None
    ]
    for row in emergent_no_flops:
        notes.append(
            f"{row['series']}: emergent at {format_params(row['emergent_params'])} params "
            "(training FLOPs unknown, so no rule is drawn)."
        )
    smooth = [
        f"{r['series']} (from {format_params(r['emergent_params'])})"
        if r["emergent_params"] is not None
        else r["series"]
        for r in rows
        if r["classification"] == "smooth" and r["series"] in series_present
    ]
    if smooth:
        notes.append(f"Above random without a sharp jump (smooth, no rule): {', '.join(smooth)}.")
    with_scale = {r["series"] for r in ruled} | {r["series"] for r in emergent_no_flops}
    without = [
        f"{r['series']} ({CLASSIFICATION_TEXT.get(r['classification'], r['classification'])})"
        for r in rows
        if r["series"] not in with_scale
        and r["classification"] != "smooth"
        and r["series"] in series_present
    ]
    if without:
        notes.append(f"No emergent scale: {', '.join(without)}.")
    return notes


def _sources_note(points: pl.DataFrame) -> str:
    """The citations behind the points, for readers of the PNG (the HTML has them per point)."""
    citations: list[str] = []
    for cell in points.get_column("citation").drop_nulls().to_list():
        for citation in (c.strip() for c in cell.split(";")):
            if citation and citation not in citations:
                citations.append(citation)
    return f"Source{'s' if len(citations) != 1 else ''}: {'; '.join(citations)}."


def _emergence_layers(
    rule_rows: Sequence[dict], domain: tuple[float, float], label: bool
) -> list[alt.Chart]:
    """A vertical rule per emergent series, in its colour, labelled in a strip above the plot.

    The labels sit above the data rectangle so they never cover points; the leftmost rule gets
    the lowest row, so a rule's upward extension never crosses another label.
    """
    layers: list[alt.Chart] = []
    log_lo, log_hi = (math.log10(d) for d in domain)
    for row_no, row in enumerate(sorted(rule_rows, key=lambda r: r["emergent_flops"])):
        tip = alt.value(_emergence_tooltip(row))
        text_bottom = -6 - RULE_LABEL_ROW_PX * row_no
        rule_top = text_bottom - 13 if label else 0
        layers.append(
            alt.Chart()
            .mark_rule(strokeWidth=2, opacity=0.85)
            .encode(
                x=alt.datum(row["emergent_flops"]),
                y=alt.value(rule_top),
                y2=alt.value(PLOT_HEIGHT),
                color=alt.datum(row["series"]),
                tooltip=tip,
            )
        )
        if not label:
            continue
        at = (math.log10(row["emergent_flops"]) - log_lo) / (log_hi - log_lo)
        left_of_rule = at > 0.35  # otherwise the text would run past the y axis
        layers.append(
            alt.Chart()
            .mark_text(
                align="right" if left_of_rule else "left",
                baseline="bottom",
                dx=-5 if left_of_rule else 5,
                fontSize=12,
                fontWeight="bold",
            )
            .encode(
                x=alt.datum(row["emergent_flops"]),
                y=alt.value(text_bottom),
                text=alt.datum(_emergence_label(row)),
                color=alt.datum(row["series"]),
                tooltip=tip,
            )
        )
    return layers


def panel_chart(
    points: pl.DataFrame,
    emergence: pl.DataFrame,
    spec: PanelSpec,
    random_level: float | None,
) -> alt.TopLevelMixin:
    """One Wei et al. panel: metric vs training FLOPs (log), a line per series, random and emergence rules.

    Points without FLOPs cannot sit on the axis; they are listed in a note instead of dropped.
    """
    _require(points, POINT_COLUMNS, "points")
    if points.is_empty():
        return empty_panel_chart(
            spec, "No results in the warehouse for this task, setting and metric."
        )

    points = points.with_columns(
        pl.col("train_flops").cast(pl.Float64),
        pl.col("params").cast(pl.Float64),
        pl.col("value").cast(pl.Float64),
    )
    finite = (
        pl.col("train_flops").is_not_null()
        & pl.col("train_flops").is_finite()
        & (pl.col("train_flops") > 0)
    )
    drawable = points.filter(finite)
    missing = points.filter(~finite)
    rows = _emergence_rows(emergence)

    notes: list[str] = list(spec.notes)
    missing_note = _missing_flops_note(missing)
    if missing_note:
        notes.append(missing_note)
    notes.extend(
        _emergence_notes(
            rows,
            points.get_column("series").unique().to_list(),
            labelled_on_chart=len(_rule_rows(rows)) <= MAX_RULE_LABELS,
        )
    )
    notes.append(_sources_note(points))

    if drawable.is_empty():
        return empty_panel_chart(
            spec,
            "No model in this panel has known training FLOPs, so nothing can be placed on the FLOPs axis.",
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

    rule_rows = _rule_rows(rows)
    domain = _log_domain(
        drawable.get_column("train_flops").to_list() + [r["emergent_flops"] for r in rule_rows]
    )
    x_scale = alt.Scale(type="log", domain=list(domain), nice=False)
    x_axis = _decade_axis(domain, "Training FLOPs (log scale)")

    drawable = drawable.with_columns(
        params_text=pl.col("params").map_elements(format_params, return_dtype=pl.String),
        flops_text=pl.col("train_flops").map_elements(lambda f: f"{f:.3g}", return_dtype=pl.String),
    ).sort("series", "train_flops")

    y_zero = drawable.get_column("unit").drop_nulls().is_in(["percent", "bleu"]).all() and (
        drawable.get_column("value").min() >= 0
    )
    y_scale = alt.Scale(domain=_value_domain(drawable, random_level, bool(y_zero)), nice=True)
    x = alt.X("train_flops:Q", scale=x_scale, axis=x_axis)
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
        ),
    )
    base = alt.Chart(drawable).encode(x=x, y=y, color=colour)
    lines = base.mark_line(strokeWidth=2.5)
    markers = base.mark_point(filled=True, size=70, opacity=1).encode(
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

    layers.extend(_emergence_layers(rule_rows, domain, label=len(rule_rows) <= MAX_RULE_LABELS))

    plot = alt.layer(*layers).properties(width=PANEL_WIDTH, height=PLOT_HEIGHT)
    lines_out = _wrap(notes)
    chart = alt.vconcat(plot, _notes_chart(lines_out, PANEL_WIDTH), spacing=14, title=_title(spec))
    return _configure(chart)


def empty_panel_chart(
    spec: PanelSpec, reason: str, extra_notes: Sequence[str] = ()
) -> alt.TopLevelMixin:
    """A framed message instead of an empty axis, so a missing panel reads as missing, not as zero."""
    reason_lines = _wrap([reason], width=80)
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
    notes = _wrap([*spec.notes, *extra_notes])
    if notes:
        chart = alt.vconcat(box, _notes_chart(notes, PANEL_WIDTH), spacing=14, title=_title(spec))
    else:
        chart = box.properties(title=_title(spec))
    return _configure(chart)


# --------------------------------------------------------------------------------------------
# Table 1: the 23 emergent abilities and their reported (and recomputed) emergent scales.
# --------------------------------------------------------------------------------------------

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
    _require(table1, TABLE1_COLUMNS, "table1")
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
        if _drawable_flops(v)
    ]
    lo, hi = _log_domain(numeric or [1e22])
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
    x_axis = _decade_axis(domain, "Emergent scale, training FLOPs (log)")
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
    title = alt.TitleParams(
        text="Table 1 · Emergent abilities of large language models",
        subtitle=_wrap(
            [
                f"{n_rows} abilities (Wei et al. 2022, Table 1): the smallest training compute at "
                "which each was reported above random, with the model family and size; the lake's "
                "recomputed scale sits beside it where the lake holds the curve."
            ],
            width=92,
        ),
        anchor="start",
        fontSize=16,
        subtitleFontSize=12.5,
        subtitleColor="#333333",
        offset=10,
    )
    chart = alt.layer(*layers).properties(
        width=TABLE1_WIDTH, height=TABLE1_ROW_HEIGHT * n_rows, title=title
    )
    return _configure(chart)


# --------------------------------------------------------------------------------------------
# Output.
# --------------------------------------------------------------------------------------------


PREVIEW_SCALE = 0.6  # the small PNG shown inline in Dagster's asset metadata


def _write_if_changed(path: Path, data: bytes) -> bool:
    """Write only when the bytes differ, so an unaffected chart keeps its file (and mtime)."""
    if path.exists() and path.read_bytes() == data:
        return False
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return True


def write_chart(chart: alt.TopLevelMixin, directory: Path, stem: str) -> dict[str, Path | bool]:
    """Write `stem.html` (Vega, Vega-Lite and vega-embed inlined: opens offline), `stem.png` (scale 2)
    and `previews/stem.png` (small, for asset metadata).

    All go through vl-convert, so no browser or network is needed. Files whose content would not
    change are left alone; `changed` says whether any was rewritten.
    """
    directory = Path(directory)
    (directory / "previews").mkdir(parents=True, exist_ok=True)
    html_path = directory / f"{stem}.html"
    png_path = directory / f"{stem}.png"
    preview_path = directory / "previews" / f"{stem}.png"
    html, png, preview = io.StringIO(), io.BytesIO(), io.BytesIO()
    chart.save(html, format="html", inline=True)
    chart.save(png, format="png", scale_factor=2)
    chart.save(preview, format="png", scale_factor=PREVIEW_SCALE)
    changed = False
    for path, data in (
        (html_path, html.getvalue().encode()),
        (png_path, png.getvalue()),
        (preview_path, preview.getvalue()),
    ):
        changed |= _write_if_changed(path, data)
    return {"html": html_path, "png": png_path, "preview": preview_path, "changed": changed}
