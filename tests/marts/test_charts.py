"""Charts: properties of the Vega-Lite specs, and the files written for them.

Inputs are built by hand from real numbers in the literature sources
(/work/shared/literature/curves.csv): PaLM one-shot WiC, GPT-3 MMLU, LaMDA GSM8K.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from marts.chart_files import write_chart
from marts.gallery import GalleryEntry, write_gallery
from marts.number_format import format_flops, format_params
from marts.panel_chart import PanelSpec, empty_panel_chart, panel_chart, series_colours
from marts.table1_chart import table1_chart

POINT_SCHEMA = {
    "series": pl.String,
    "family": pl.String,
    "model_id": pl.String,
    "label": pl.String,
    "train_flops": pl.Float64,
    "params": pl.Float64,
    "value": pl.Float64,
    "unit": pl.String,
    "citation": pl.String,
    "location": pl.String,
    "setting": pl.String,
}
EMERGENCE_SCHEMA = {
    "series": pl.String,
    "classification": pl.String,
    "emergent_flops": pl.Float64,
    "emergent_params": pl.Float64,
    "crossing_flops": pl.Float64,
    "emergent_model_label": pl.String,
}

WIC = PanelSpec(
    panel_id="fig2h",
    title="Figure 2H · Word in Context (WiC)",
    subtitle="WiC (SuperGLUE), 1-shot, accuracy (%)",
    y_title="Accuracy (%)",
)
MMLU = PanelSpec(
    panel_id="fig2g",
    title="Figure 2G · Multi-task NLU (MMLU)",
    subtitle="MMLU, 5-shot, accuracy averaged over 57 tasks",
    y_title="Accuracy (%)",
    notes=("GPT-3 sizes follow the MMLU paper's mapping of API engines to model sizes.",),
)
GSM8K = PanelSpec(
    panel_id="fig3a",
    title="Figure 3A · Math word problems (GSM8K)",
    subtitle="GSM8K, 8 exemplars, chain-of-thought vs standard prompting, solve rate (%)",
    y_title="Solve rate (%)",
    baseline_label="Standard prompting",
)


def _points(
    rows: list[tuple[str, float, float | None, float]],
    series: str,
    family: str,
    citation: str,
    location: str,
    setting: str,
) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "series": series,
                "family": family,
                "model_id": label.lower().replace(" ", "-"),
                "label": label,
                "train_flops": flops,
                "params": params,
                "value": value,
                "unit": "percent",
                "citation": citation,
                "location": location,
                "setting": setting,
            }
            for label, params, flops, value in rows
        ],
        schema=POINT_SCHEMA,
    )


def _emergence(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=EMERGENCE_SCHEMA, orient="row")


def wic_points() -> pl.DataFrame:
    """PaLM one-shot WiC (Chowdhery et al. 2022) and GPT-3 few-shot WiC at 175B (Brown et al.)."""
    palm = _points(
        [
            ("PaLM 8B", 8.63e9, 4.29e22, 47.3),
            ("PaLM 62B", 62.5e9, 2.957e23, 48.6),
            ("PaLM 540B", 540.35e9, 2.5272e24, 63.2),
        ],
        "PaLM",
        "PaLM",
        "Chowdhery et al. 2022",
        "Table 40",
        "1-shot",
    )
    gpt3 = _points(
        [("GPT-3 175B", 175e9, 3.14e23, 49.4)],
        "GPT-3",
        "GPT-3",
        "Brown et al. 2020",
        "Section 3.7",
        "few-shot K=32, test set",
    )
    return pl.concat([palm, gpt3])


def wic_emergence() -> pl.DataFrame:
    return _emergence(
        [
            ("PaLM", "emergent", 2.5272e24, 540.35e9, 8.1e23, "PaLM 540B"),
            ("GPT-3", "too_few_points", None, None, None, None),
        ]
    )


def mmlu_points() -> pl.DataFrame:
    """GPT-3 MMLU 5-shot, average over 57 tasks (Hendrycks et al. 2021a, Table 1)."""
    return _points(
        [
            ("GPT-3 Small (Ada)", 2.7e9, 4.77e21, 25.9),
            ("GPT-3 Medium (Babbage)", 6.7e9, 1.20e22, 24.9),
            ("GPT-3 Large (Curie)", 13e9, 2.31e22, 26.0),
            ("GPT-3 X-Large (Davinci)", 175e9, 3.14e23, 43.9),
        ],
        "GPT-3",
        "GPT-3",
        "Hendrycks et al. 2021a",
        "Table 1",
        "5-shot",
    )


def gsm8k_points() -> pl.DataFrame:
    """LaMDA GSM8K (Wei et al. 2022b, App. B Table 2): three sizes have no published FLOPs."""
    sizes = [
        ("LaMDA 420M", 422e6, None),
        ("LaMDA 2B", 2e9, None),
        ("LaMDA 8B", 8e9, 7e21),
        ("LaMDA 68B", 68e9, 1.3e23),
        ("LaMDA 137B", 137e9, None),
    ]
    cot = [0.4, 1.9, 1.6, 8.2, 14.3]
    standard = [2.6, 3.6, 3.2, 5.7, 6.5]
    cite = ("Wei et al. 2022b", "Appendix B Table 2")
    return pl.concat(
        [
            _points(
                [(*s, v) for s, v in zip(sizes, cot, strict=True)],
                "LaMDA · chain-of-thought",
                "LaMDA",
                *cite,
                "chain-of-thought, 8 exemplars",
            ),
            _points(
                [(*s, v) for s, v in zip(sizes, standard, strict=True)],
                "LaMDA · standard",
                "LaMDA",
                *cite,
                "standard, 8 exemplars",
            ),
        ]
    )


# ---------------------------------------------------------------------------------------------
# Walking the Vega-Lite spec.
# ---------------------------------------------------------------------------------------------


def _marks(spec: dict[str, Any]) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Every unit spec (one with a mark) with the rows of the data it draws."""
    datasets = spec.get("datasets", {})

    def rows(data: dict[str, Any] | None) -> list[dict[str, Any]]:
        if not data:
            return []
        if "values" in data:
            return list(data["values"])
        return list(datasets.get(data.get("name", ""), []))

    def walk(node: Any, inherited: dict[str, Any] | None) -> Iterator[Any]:
        if isinstance(node, dict):
            data = node.get("data", inherited)
            if "mark" in node:
                yield node, rows(data)
            for key in ("layer", "vconcat", "hconcat", "concat"):
                for child in node.get(key, []):
                    yield from walk(child, data)

    yield from walk(spec, None)


def _mark_type(node: dict[str, Any]) -> str:
    mark = node["mark"]
    return mark if isinstance(mark, str) else mark["type"]


def _texts(spec: dict[str, Any]) -> list[str]:
    """All text a reader sees: titles, subtitles, text marks (field values and constants)."""
    out: list[str] = []
    title = spec.get("title")
    if isinstance(title, dict):
        out.append(title["text"])
        sub = title.get("subtitle", [])
        out.extend([sub] if isinstance(sub, str) else sub)
    for node, data in _marks(spec):
        if _mark_type(node) != "text":
            continue
        text = node.get("encoding", {}).get("text", {})
        if "field" in text:
            out.extend(str(r[text["field"]]) for r in data)
        for key in ("datum", "value"):
            if key in text:
                out.append(str(text[key]))
    return out


def _rules(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [node for node, _ in _marks(spec) if _mark_type(node) == "rule"]


def _horizontal_rules(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in _rules(spec) if "datum" in r["encoding"].get("y", {})]


def _vertical_rules(spec: dict[str, Any]) -> dict[str, float]:
    """Series -> x of its emergence rule."""
    return {
        r["encoding"]["color"]["datum"]: r["encoding"]["x"]["datum"]
        for r in _rules(spec)
        if "datum" in r["encoding"].get("x", {})
    }


# ---------------------------------------------------------------------------------------------
# Panel chart.
# ---------------------------------------------------------------------------------------------


def test_x_is_training_flops_on_a_log_axis_with_decade_ticks() -> None:
    spec = panel_chart(wic_points(), wic_emergence(), WIC, 50.0).to_dict()
    xs = [
        node["encoding"]["x"]
        for node, _ in _marks(spec)
        if node.get("encoding", {}).get("x", {}).get("field") == "train_flops"
    ]
    assert xs, "no layer plots train_flops on x"
    for x in xs:
        assert x["scale"]["type"] == "log"
        lo, hi = x["scale"]["domain"]
        assert lo <= 4.29e22 and hi >= 2.5272e24
        ticks = x["axis"]["values"]
        assert all(math.isclose(math.log10(t), round(math.log10(t))) for t in ticks)
        assert "10²²" in x["axis"]["labelExpr"]


def test_one_line_and_marker_per_series() -> None:
    spec = panel_chart(wic_points(), wic_emergence(), WIC, 50.0).to_dict()
    lines = [(n, d) for n, d in _marks(spec) if _mark_type(n) == "line"]
    assert len(lines) == 1
    node, data = lines[0]
    assert node["encoding"]["color"]["field"] == "series"
    assert {r["series"] for r in data} == {"PaLM", "GPT-3"}
    assert any(_mark_type(n) == "point" for n, _ in _marks(spec))


def test_random_level_is_a_dashed_labelled_rule() -> None:
    spec = panel_chart(wic_points(), wic_emergence(), WIC, 50.0).to_dict()
    random_rules = _horizontal_rules(spec)
    assert len(random_rules) == 1
    assert random_rules[0]["encoding"]["y"]["datum"] == 50.0
    assert random_rules[0]["mark"]["strokeDash"]
    assert "Random (50)" in _texts(spec)


def test_no_random_rule_without_a_level() -> None:
    spec = panel_chart(wic_points(), wic_emergence(), WIC, None).to_dict()
    assert not _horizontal_rules(spec)
    assert not any(t.startswith("Random") for t in _texts(spec))


def test_vertical_rule_per_emergent_series_at_its_scale() -> None:
    emergence = _emergence(
        [
            ("PaLM", "emergent", 2.5272e24, 540.35e9, 8.1e23, "PaLM 540B"),
            ("GPT-3", "emergent", 3.14e23, 175e9, 1.1e23, "GPT-3 175B"),
        ]
    )
    spec = panel_chart(wic_points(), emergence, WIC, 50.0).to_dict()
    assert _vertical_rules(spec) == {"PaLM": 2.5272e24, "GPT-3": 3.14e23}
    texts = _texts(spec)
    assert "PaLM: 540B" in texts and "GPT-3: 175B" in texts
    labels = [n for n, _ in _marks(spec) if _mark_type(n) == "text" and "color" in n["encoding"]]
    assert all(n["encoding"]["y"]["value"] < 0 for n in labels), "labels go above the plot"


def test_smooth_series_get_no_rule_but_are_named_in_a_note() -> None:
    emergence = _emergence(
        [
            ("PaLM", "emergent", 2.5272e24, 540.35e9, 8.1e23, "PaLM 540B"),
            ("GPT-3", "smooth", 3.14e23, 175e9, None, "GPT-3 175B"),
        ]
    )
    spec = panel_chart(wic_points(), emergence, WIC, 50.0).to_dict()
    assert _vertical_rules(spec) == {"PaLM": 2.5272e24}
    texts = _texts(spec)
    assert any("smooth, no rule): GPT-3." in t for t in texts)
    assert not any("175B" in t and "GPT-3" in t for t in texts), "a smooth series has no scale"


def test_many_close_emergent_series_each_get_a_labelled_rule() -> None:
    families = ["Pythia", "OPT", "BLOOM", "Falcon", "Llama", "Qwen", "XGLM"]
    points = pl.concat(
        _points(
            [(f"{f} 1B", 1e9, 1e21, 0.0), (f"{f} 7B", 7e9, 7e21 * (i + 1), 40.0)],
            f,
            f,
            "Ruan et al. 2024",
            "ObsScaling CSV",
            "2-shot",
        )
        for i, f in enumerate(families)
    )
    emergence = _emergence(
        [(f, "emergent", 7e21 * (i + 1), 7e9, None, f"{f} 7B") for i, f in enumerate(families)]
    )
    spec = panel_chart(points, emergence, WIC, 0.0).to_dict()
    assert set(_vertical_rules(spec)) == set(families)
    texts = _texts(spec)
    assert all(f"{f}: 7B" in texts for f in families)


def test_series_without_emergent_scale_gets_no_rule_but_a_note() -> None:
    spec = panel_chart(wic_points(), wic_emergence(), WIC, 50.0).to_dict()
    assert list(_vertical_rules(spec)) == ["PaLM"]
    assert any("No emergent scale: GPT-3 (too few points" in t for t in _texts(spec))


def test_emergent_scale_without_params_is_labelled_in_flops() -> None:
    emergence = _emergence([("PaLM", "emergent", 2.3e22, None, None, None)])
    spec = panel_chart(wic_points(), emergence, WIC, 50.0).to_dict()
    assert "PaLM: ≈2.3×10²² FLOPs" in _texts(spec)


def test_empty_emergence_frame_draws_no_vertical_rules() -> None:
    spec = panel_chart(mmlu_points(), pl.DataFrame(), MMLU, 25.0).to_dict()
    assert not _vertical_rules(spec)


def test_tooltips_name_model_scale_value_and_citation() -> None:
    spec = panel_chart(mmlu_points(), pl.DataFrame(), MMLU, 25.0).to_dict()
    fields = {
        t["field"]
        for node, _ in _marks(spec)
        for t in node.get("encoding", {}).get("tooltip", [])
        if isinstance(t, dict) and "field" in t
    }
    assert {"label", "params_text", "flops_text", "value", "citation", "location"} <= fields
    points = next(d for n, d in _marks(spec) if _mark_type(n) == "point")
    davinci = next(r for r in points if r["label"] == "GPT-3 X-Large (Davinci)")
    assert davinci["params_text"] == "175B" and davinci["citation"] == "Hendrycks et al. 2021a"


def test_title_subtitle_and_notes_are_on_the_chart() -> None:
    spec = panel_chart(mmlu_points(), pl.DataFrame(), MMLU, 25.0).to_dict()
    assert spec["title"]["text"] == MMLU.title
    subtitle = " ".join(spec["title"]["subtitle"])
    assert subtitle == f"{MMLU.subtitle} — GPT-3", "who is drawn comes from the data"
    texts = _texts(spec)
    assert any("MMLU paper's mapping" in t for t in texts)
    assert any("Hendrycks et al. 2021a" in t for t in texts), "sources line missing"


def test_models_without_flops_are_listed_not_dropped_silently() -> None:
    emergence = _emergence(
        [("LaMDA · chain-of-thought", "emergent", 1.3e23, 68e9, 5e22, "LaMDA 68B")]
    )
    spec = panel_chart(gsm8k_points(), emergence, GSM8K, None).to_dict()
    drawn = next(d for n, d in _marks(spec) if _mark_type(n) == "line")
    assert {r["label"] for r in drawn} == {"LaMDA 8B", "LaMDA 68B"}
    note = " ".join(
        " ".join(t for t in _texts(spec) if "FLOPs unknown" in t or t.startswith("  ")).split()
    )
    for label in ("LaMDA 420M", "LaMDA 2B", "LaMDA 137B"):
        assert label in note
    assert "LaMDA 8B" not in note


def test_panel_where_no_model_has_a_scale_says_so() -> None:
    points = gsm8k_points().with_columns(
        train_flops=pl.lit(None, dtype=pl.Float64), params=pl.lit(None, dtype=pl.Float64)
    )
    spec = panel_chart(points, pl.DataFrame(), GSM8K, None).to_dict()
    texts = " ".join(_texts(spec))
    assert "No data for this panel" in texts
    assert "training FLOPs" in texts and "LaMDA 137B" in texts
    assert not [n for n, _ in _marks(spec) if _mark_type(n) in ("line", "point")]


def test_panel_without_points_is_an_empty_panel() -> None:
    spec = panel_chart(wic_points().clear(), pl.DataFrame(), WIC, 50.0).to_dict()
    assert "No data for this panel" in _texts(spec)


def test_empty_panel_shows_the_reason_in_a_frame() -> None:
    reason = "BIG-bench results are offline: set EMERGENCE_MIRROR to a local mirror."
    spec = empty_panel_chart(MMLU, reason).to_dict()
    texts = " ".join(_texts(spec))
    assert "No data for this panel" in texts
    assert reason in texts.replace("\n", " ")
    assert spec["title"]["text"] == MMLU.title
    framed = [
        n for n in spec.get("vconcat", [spec]) if n.get("view", {}).get("stroke") not in (None,)
    ]
    assert framed, "the message is not framed"
    assert not [n for n, _ in _marks(spec) if "x" in n.get("encoding", {}) and _is_axis(n)]


def _is_axis(node: dict[str, Any]) -> bool:
    x = node["encoding"]["x"]
    return "field" in x and x.get("axis") is not None


def test_points_frame_missing_a_column_fails_with_its_name() -> None:
    with pytest.raises(ValueError, match="citation"):
        panel_chart(wic_points().drop("citation"), pl.DataFrame(), WIC, 50.0)


def test_same_family_series_share_a_hue_and_differ_in_tint() -> None:
    colours = series_colours([("LaMDA · chain-of-thought", "LaMDA"), ("LaMDA · standard", "LaMDA")])
    assert colours["LaMDA · chain-of-thought"] == "#f28e2b"
    assert colours["LaMDA · standard"] != colours["LaMDA · chain-of-thought"]


@pytest.mark.parametrize(
    ("params", "text"),
    [(540.35e9, "540B"), (62.5e9, "62.5B"), (8.63e9, "8.63B"), (422e6, "422M"), (40e6, "40M")],
)
def test_format_params(params: float, text: str) -> None:
    assert format_params(params) == text


@pytest.mark.parametrize(
    ("flops", "text"),
    [(2.3e22, "2.3×10²²"), (2.5272e24, "2.5×10²⁴"), (1e23, "10²³"), (9.97e19, "10²⁰")],
)
def test_format_flops(flops: float, text: str) -> None:
    assert format_flops(flops) == text


# ---------------------------------------------------------------------------------------------
# Table 1.
# ---------------------------------------------------------------------------------------------

TABLE1_ROWS = [
    # row_order, kind, ability, family, flops, params
    (1, "few-shot", "Addition/subtraction (3 digit)", "GPT-3", 2.3e22, 13e9),
    (2, "few-shot", "Addition/subtraction (4-5 digit)", "GPT-3", 3.1e23, 175e9),
    (3, "few-shot", "MMLU Benchmark (57 topic avg.)", "GPT-3", 3.1e23, 175e9),
    (4, "few-shot", "Toxicity classification (CivilComments)", "Gopher", 1.3e22, 7.1e9),
    (5, "few-shot", "Truthfulness (Truthful QA)", "Gopher", 5.0e23, 280e9),
    (6, "few-shot", "MMLU Benchmark (26 topics)", "Gopher", 5.0e23, 280e9),
    (7, "few-shot", "Grounded conceptual mappings", "GPT-3", 3.1e23, 175e9),
    (8, "few-shot", "MMLU Benchmark (30 topics)", "Chinchilla", 5.0e23, 70e9),
    (9, "few-shot", "Word in Context (WiC) benchmark", "PaLM", 2.5e24, 540e9),
    (10, "few-shot", "Many BIG-Bench tasks (see Appendix E)", "Many", None, None),
    (11, "augmented", "Instruction following (finetuning)", "FLAN", 1.3e23, 68e9),
    (12, "augmented", "Scratchpad: 8-digit addition (finetuning)", "LaMDA", 8.9e19, 40e6),
    (13, "augmented", "Using open-book knowledge for fact checking", "Gopher", 1.3e22, 7.1e9),
    (14, "augmented", "Chain-of-thought: Math word problems", "LaMDA", 1.3e23, 68e9),
    (15, "augmented", "Chain-of-thought: StrategyQA", "PaLM", 2.9e23, 62e9),
    (16, "augmented", "Differentiable search index", "T5", 3.3e22, 11e9),
    (17, "augmented", "Self-consistency decoding", "LaMDA", 1.3e23, 68e9),
    (18, "augmented", "Leveraging explanations in prompting", "Gopher", 5.0e23, 280e9),
    (19, "augmented", "Least-to-most prompting", "GPT-3", 3.1e23, 175e9),
    (20, "augmented", "Zero-shot chain-of-thought reasoning", "GPT-3", 3.1e23, 175e9),
    (21, "augmented", "Calibration via P(True)", "Anthropic", 2.6e23, 52e9),
    (22, "augmented", "Multilingual chain-of-thought reasoning", "PaLM", 2.9e23, 62e9),
    (23, "augmented", "Ask me anything prompting", "EleutherAI", 1.4e22, 6e9),
]
# The lake's recomputed scales for the rows where it has the curve: (flops, params, agrees).
COMPUTED = {
    3: (3.14e23, 175e9, True),
    9: (2.5272e24, 540.35e9, True),
    15: (4.29e22, 8.63e9, False),
    7: (3.14e23, 175e9, None),
}


def table1_frame() -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "row_order": order,
                "ability": ability,
                "family": family,
                "is_numeric": flops is not None,
                "reported_flops": flops,
                "reported_params": params,
                "computed_flops": COMPUTED.get(order, (None,))[0],
                "computed_params": COMPUTED.get(order, (None, None))[1],
                "agrees": COMPUTED.get(order, (None, None, None))[2],
                "prompting_kind": kind,
                "reference": "Brown et al. (2020)" if family == "GPT-3" else "see Table 1",
            }
            for order, kind, ability, family, flops, params in TABLE1_ROWS
        ],
        schema_overrides={
            "reported_flops": pl.Float64,
            "reported_params": pl.Float64,
            "computed_flops": pl.Float64,
            "computed_params": pl.Float64,
            "agrees": pl.Boolean,
        },
    )


def test_table1_has_23_rows_in_printed_order_with_the_non_numeric_one() -> None:
    spec = table1_chart(table1_frame()).to_dict()
    ys = [n["encoding"]["y"] for n, _ in _marks(spec) if "y" in n.get("encoding", {})]
    domain = ys[0]["scale"]["domain"]
    assert len(domain) == 23
    assert domain[0].startswith("1. Addition/subtraction (3 digit)")
    assert domain[9].startswith("10. Many BIG-Bench tasks")
    assert "Many (non-numeric)" in _texts(spec)


def test_table1_x_is_log_flops_with_reported_and_recomputed_marks() -> None:
    spec = table1_chart(table1_frame()).to_dict()
    points = [(n, d) for n, d in _marks(spec) if _mark_type(n) == "point"]
    assert all(n["encoding"]["x"]["scale"]["type"] == "log" for n, _ in points)
    rows = [r for _, d in points for r in d]
    reported = [r for r in rows if r["marker"].startswith("Reported")]
    recomputed = {r["ability"]: r["marker"] for r in rows if r["marker"].startswith("Recomputed")}
    assert len(reported) == 22  # every numeric row
    assert recomputed == {
        "MMLU Benchmark (57 topic avg.)": "Recomputed, agrees",
        "Word in Context (WiC) benchmark": "Recomputed, agrees",
        "Chain-of-thought: StrategyQA": "Recomputed, disagrees",
        "Grounded conceptual mappings": "Recomputed, not compared",
    }
    shapes = points[0][0]["encoding"]["shape"]["scale"]["range"]
    assert len(set(shapes)) > 1, "recomputed marks need a different shape"
    tooltip_fields = {t["field"] for t in points[0][0]["encoding"]["tooltip"]}
    assert {"reported_text", "computed_text", "agreement", "reference"} <= tooltip_fields


def test_table1_without_reference_column_still_renders() -> None:
    spec = table1_chart(table1_frame().drop("reference")).to_dict()
    assert "Many (non-numeric)" in _texts(spec)


# ---------------------------------------------------------------------------------------------
# Files.
# ---------------------------------------------------------------------------------------------


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_write_chart_writes_offline_html_and_a_2x_png(tmp_path: Path) -> None:
    chart = panel_chart(wic_points(), wic_emergence(), WIC, 50.0)
    paths = write_chart(chart, tmp_path / "charts", "fig2h")
    assert set(paths) == {"html", "png", "preview", "hash", "rendered", "changed"}
    assert paths["changed"] is True and paths["rendered"] is True
    width, height = _png_size(paths["png"])
    preview_width, _ = _png_size(paths["preview"])
    assert preview_width < width / 2  # small enough to inline in asset metadata
    assert 1200 <= width <= 1600, width  # about 640-720 px at scale 2
    assert 700 <= height <= 1400, height
    page = paths["html"].read_text(encoding="utf-8")
    assert "vegaEmbed" in page
    embedded = json.loads(page.split("const spec = ", 1)[1].split(";\n", 1)[0])
    assert embedded["title"]["text"] == "Figure 2H · Word in Context (WiC)"
    assert embedded["vconcat"] == chart.to_dict()["vconcat"]
    assert '<script src="http' not in page, "HTML must not load scripts from the network"
    before = paths["png"].stat().st_mtime_ns
    again = write_chart(chart, tmp_path / "charts", "fig2h")
    assert again["rendered"] is False, "an unchanged chart must not be rendered again"
    assert (
        again["changed"] is False and paths["png"].stat().st_mtime_ns == before
    )  # unchanged chart, untouched file


def test_write_chart_png_of_table1_and_empty_panel(tmp_path: Path) -> None:
    for stem, chart in {
        "table1": table1_chart(table1_frame()),
        "fig2a": empty_panel_chart(WIC, "no results yet"),
    }.items():
        width, height = _png_size(write_chart(chart, tmp_path, stem)["png"])
        assert 1000 <= width <= 1700 and 300 <= height <= 1700, (stem, width, height)


def test_gallery_lists_every_entry_and_marks_missing_data(tmp_path: Path) -> None:
    (tmp_path / "fig2h.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "fig2h.html").write_text("<html></html>")
    entries = [
        GalleryEntry("fig2h", "Figure 2H · WiC", "PaLM emerges at 540B.", True),
        GalleryEntry("fig2a", "Figure 2A · Modular arithmetic", "BIG-bench source offline.", False),
        GalleryEntry("table1", "Table 1 <23 abilities>", "Reported vs recomputed.", True),
    ]
    page = write_gallery(entries, tmp_path)
    assert page == tmp_path / "index.html"
    text = page.read_text(encoding="utf-8")
    for entry in entries:
        assert f'id="{entry.stem}"' in text
    assert '<a href="fig2h.html"><img src="fig2h.png"' in text
    assert "Table 1 &lt;23 abilities&gt;" in text, "titles must be escaped"
    no_data = text.split('id="fig2a"')[1].split("</section>")[0]
    assert "No data for this panel" in no_data and "BIG-bench source offline." in no_data
    assert "2 of 3 charts have data" in text
