"""Charts a reader can trust: escaped input text, labels that never collide, one colour per family,
notes and captions computed from the data, the parameters axis, render-only-when-changed."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import polars as pl
import pytest

from assets.metadata import column_schema, ui_text
from marts.chart_files import _vega_embed_bundle, chart_page, script_safe_json, write_chart
from marts.gallery import GalleryEntry, write_gallery
from marts.palette import FAMILY_COLOURS, family_colour
from marts.panel_chart import (
    LABEL_CLEARANCE_PX,
    FamilyGapNote,
    PanelSpec,
    layout_rule_labels,
    panel_caption,
    panel_chart,
    series_colours,
    who_is_drawn,
)
from tests.marts.test_charts import (
    MMLU,
    WIC,
    _emergence,
    _mark_type,
    _marks,
    _points,
    _texts,
    _vertical_rules,
    mmlu_points,
    wic_emergence,
    wic_points,
)

HOSTILE = [
    "</script><script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
]


def _hostile_points() -> pl.DataFrame:
    points = wic_points()
    return points.with_columns(
        citation=pl.when(pl.col("series") == "PaLM")
        .then(pl.lit(HOSTILE[0]))
        .otherwise(pl.lit(HOSTILE[1])),
        label=pl.concat_str(pl.col("label"), pl.lit(" " + HOSTILE[1])),
    )


def _page_without_bundle(page: str) -> str:
    bundle = _vega_embed_bundle()
    assert page.count(bundle) == 1
    return page.replace(bundle, "")


# ---------------------------------------------------------------------------------------------
# Escaping.
# ---------------------------------------------------------------------------------------------


def test_hostile_citation_stays_text_in_the_written_chart_page(tmp_path: Path) -> None:
    spec = PanelSpec("fig2h", "Figure 2H " + HOSTILE[0], "WiC " + HOSTILE[1], "Accuracy (%)")
    chart = panel_chart(_hostile_points(), wic_emergence(), spec, 50.0)
    files = write_chart(chart, tmp_path, "fig2h")
    page = files["html"].read_text(encoding="utf-8")
    rest = _page_without_bundle(page)
    for text in HOSTILE:
        assert text not in page
    assert "<img" not in rest and "alert(1)</script>" not in rest
    # exactly the page's own script blocks: the bundle and the embedding script
    assert len(re.findall(r"<script\b", rest)) == 2 and rest.count("</script>") == 2
    assert "<title>Figure 2H &lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;</title>" in rest
    # ... and the citation arrives in the chart intact, as data the chart draws as text
    embedded = json.loads(page.split("const spec = ", 1)[1].split(";\n", 1)[0])
    assert embedded == json.loads(json.dumps(chart.to_dict()))
    assert any(HOSTILE[0] in t for t in _texts(embedded)), "the sources note shows it as text"


def test_script_safe_json_round_trips_and_cannot_close_a_script() -> None:
    value = {"a": "</script><!-- & \u2028 >", "b": [1, 2.5, None]}
    text = script_safe_json(value)
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == value


def test_tooltips_use_the_escaping_handler() -> None:
    # vega-embed's default tooltip handler (vega-tooltip) escapes '&' and '<' before it sets
    # innerHTML; the page must keep that default rather than pass its own handler.
    assert 'replace(/&/g,"&amp;").replace(/</g,"&lt;")' in _vega_embed_bundle()
    page = chart_page({"title": "t", "mark": "point"})
    assert 'vegaEmbed("#chart", spec, {"renderer": "svg"})' in page


def test_gallery_escapes_titles_and_captions(tmp_path: Path) -> None:
    (tmp_path / "fig2h.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "fig2h.html").write_text("<html></html>")
    entries = [GalleryEntry("fig2h", HOSTILE[0], HOSTILE[1], True)]
    text = write_gallery(entries, tmp_path).read_text(encoding="utf-8")
    for hostile in HOSTILE:
        assert hostile not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "<script" not in text


def test_column_descriptions_keep_their_placeholders_escaped() -> None:
    assert ui_text("'run <run_id> config <hash>'") == "'run &lt;run_id&gt; config &lt;hash&gt;'"
    location = next(c for c in column_schema("results").columns if c.name == "location")
    assert "&lt;run_id&gt;" in location.description and "<run_id>" not in location.description


# ---------------------------------------------------------------------------------------------
# The interactive page and the gallery.
# ---------------------------------------------------------------------------------------------


def test_chart_page_fills_the_window_and_links_back_to_the_gallery() -> None:
    page = chart_page({"title": {"text": "Figure 2H"}, "mark": "point"})
    assert '<a href="index.html">' in page
    assert "width: calc(100% - 16px); height: calc(100% - 16px)" in page
    assert "html, body { margin: 0; height: 100%;" in page


def test_legend_click_highlights_a_series() -> None:
    spec = panel_chart(wic_points(), wic_emergence(), WIC, 50.0).to_dict()
    params = [p for p in _params(spec) if p.get("name") == "highlight"]
    assert params, "no highlight selection"
    select = params[0]["select"]
    assert select["type"] == "point" and select["fields"] == ["series"]
    assert params[0]["bind"] == "legend"
    lines = next(n for n, _ in _marks(spec) if _mark_type(n) == "line")
    assert lines["encoding"]["opacity"]["condition"]["param"] == "highlight"


def _params(node: object) -> list[dict]:
    found: list[dict] = []
    if isinstance(node, dict):
        params = node.get("params")
        if isinstance(params, list):
            found.extend(p for p in params if isinstance(p, dict))
        for value in node.values():
            found.extend(_params(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_params(value))
    return found


def test_gallery_shows_title_and_caption_once_and_no_data_links_nowhere(tmp_path: Path) -> None:
    for stem in ("fig2h", "fig2f"):
        (tmp_path / f"{stem}.png").write_bytes(b"\x89PNG\r\n\x1a\n")
        (tmp_path / f"{stem}.html").write_text("<html></html>")
    entries = [
        GalleryEntry("fig2h", "Figure 2H · WiC", "4 models in 2 series.", True),
        GalleryEntry("fig2f", "Figure 2F · Mappings", "No printed table.", False),
    ]
    text = write_gallery(entries, tmp_path).read_text(encoding="utf-8")
    card = text.split('id="fig2h"')[1].split("</section>")[0]
    assert card.count("4 models in 2 series.") == 1
    assert "<h2>" not in card, "the PNG carries the title"
    no_data = text.split('id="fig2f"')[1].split("</section>")[0]
    assert "<a " not in no_data and "fig2f.html" not in no_data
    assert 'alt="Figure 2F · Mappings. No data for this panel: No printed table."' in no_data
    assert no_data.count("No printed table.") == 1, "the PNG shows the reason; the card adds none"


# ---------------------------------------------------------------------------------------------
# Rule labels.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
def test_rule_labels_never_overlap_and_no_rule_crosses_a_label(seed: int) -> None:
    rng = random.Random(seed)
    xs = sorted(rng.uniform(0, 540) for _ in range(rng.randint(3, 12)))
    if seed == 0:
        xs = [200 + 3 * i for i in range(9)]  # a tight cluster, as in Figure 2A
    widths = [rng.uniform(60, 160) for _ in xs]
    places = layout_rule_labels(xs, widths)
    pad = LABEL_CLEARANCE_PX - 1e-9
    for i, a in enumerate(places):
        assert a.x1 - a.x0 == pytest.approx(widths[i])
        assert (a.x1 < xs[i]) if a.left else (a.x0 > xs[i])
        for j, b in enumerate(places):
            if i == j:
                continue
            if a.row == b.row:
                assert a.x1 + pad <= b.x0 or b.x1 + pad <= a.x0, (i, j)
            if b.row <= a.row:  # rule i runs down through row b.row
                assert not (b.x0 - 1 < xs[i] < b.x1 + 1), (i, j)


def test_labels_in_a_real_panel_take_as_many_rows_as_needed() -> None:
    families = ["Pythia", "OPT", "BLOOM", "Falcon", "Llama", "Qwen", "XGLM"]
    points = pl.concat(
        _points(
            [(f"{f} 1B", 1e9, 1e21, 0.0), (f"{f} 7B", 7e9, 7e21 * (1 + i / 10), 40.0)],
            f,
            f,
            "Ruan et al. 2024",
            "ObsScaling CSV",
            "2-shot",
        )
        for i, f in enumerate(families)
    )
    emergence = _emergence(
        [(f, "emergent", 7e21 * (1 + i / 10), 7e9, None, f"{f} 7B") for i, f in enumerate(families)]
    )
    spec = panel_chart(points, emergence, WIC, 0.0).to_dict()
    label_rows = {
        n["encoding"]["y"]["value"]
        for n, _ in _marks(spec)
        if _mark_type(n) == "text" and "color" in n["encoding"]
    }
    assert len(label_rows) >= 4, "close rules must be labelled on separate rows"
    assert len(_vertical_rules(spec)) == len(families)


# ---------------------------------------------------------------------------------------------
# Colours, notes, captions, axes.
# ---------------------------------------------------------------------------------------------


def test_a_family_has_one_colour_in_every_panel() -> None:
    one = series_colours([("Falcon", "Falcon"), ("Zeta-LM", "Zeta-LM"), ("OPT", "OPT")])
    other = series_colours([("Zeta-LM", "Zeta-LM"), ("Falcon", "Falcon")])
    assert one["Falcon"] == other["Falcon"] == FAMILY_COLOURS["Falcon"]
    assert one["Zeta-LM"] == other["Zeta-LM"] == family_colour("Zeta-LM")


def test_listed_families_that_share_a_panel_have_distinct_colours() -> None:
    obsscaling = ["BLOOM", "Falcon", "GPT-Neo/J", "Llama", "Llama-2", "Llama-3.1", "OPT"]
    obsscaling += ["Pythia", "Qwen", "Qwen1.5", "StarCoder", "XGLM", "Yi-1.5", "GPT-2"]
    paper = ["GPT-3", "LaMDA", "Gopher", "Chinchilla", "PaLM", "Anthropic", "FLAN", "T5"]
    for group in (obsscaling, paper):
        colours = [FAMILY_COLOURS[f] for f in group]
        assert len(set(colours)) == len(colours), group


def test_smooth_series_carry_no_emergent_model_in_notes_or_caption() -> None:
    emergence = _emergence(
        [
            ("PaLM", "emergent", 2.5272e24, 540.35e9, 8.1e23, "PaLM 540B"),
            ("GPT-3", "smooth", 3.14e23, 175e9, None, "GPT-3 175B"),
        ]
    )
    caption = panel_caption(wic_points(), emergence)
    assert caption == "4 models in 2 series. Emergent: PaLM at 540B."
    assert "GPT-3" not in caption
    spec = panel_chart(wic_points(), emergence, WIC, 50.0).to_dict()
    rule_tips = [
        n["encoding"]["tooltip"]["value"]
        for n, _ in _marks(spec)
        if "value" in n["encoding"].get("tooltip", {})
    ]
    assert rule_tips and not any("GPT-3" in t for t in rule_tips)


def test_gap_note_goes_once_the_data_fills_the_gap() -> None:
    gopher = FamilyGapNote("Gopher", "Smaller Gopher sizes are figure-only.")
    spec = PanelSpec(MMLU.panel_id, MMLU.title, MMLU.subtitle, MMLU.y_title, gap_notes=(gopher,))

    def gopher_points(sizes: list[tuple[str, float, float, float]]) -> pl.DataFrame:
        return _points(sizes, "Gopher", "Gopher", "Rae et al. 2021", "Table A", "5-shot")

    # The smaller sizes' values are hypothetical (they are figure-only): what a user adding
    # them would bring; the note must notice, whatever the numbers.
    one = pl.concat([mmlu_points(), gopher_points([("Gopher 280B", 280e9, 6.3e23, 60.0)])])
    three = pl.concat(
        [
            mmlu_points(),
            gopher_points(
                [
                    ("Gopher 1.4B", 1.4e9, 2.5e21, 25.0),
                    ("Gopher 7.1B", 7.1e9, 1.3e22, 29.5),
                    ("Gopher 280B", 280e9, 6.3e23, 60.0),
                ]
            ),
        ]
    )
    assert any(
        "figure-only" in t for t in _texts(panel_chart(one, pl.DataFrame(), spec, 25.0).to_dict())
    )
    assert not any(
        "figure-only" in t for t in _texts(panel_chart(three, pl.DataFrame(), spec, 25.0).to_dict())
    )


def test_a_family_without_flops_is_drawn_on_a_parameters_axis_labelled_as_such() -> None:
    gpt2 = _points(
        [
            ("GPT-2 124M", 124e6, None, 1.0),
            ("GPT-2 355M", 355e6, None, 2.0),
            ("GPT-2 1.5B", 1.5e9, None, 9.0),
        ],
        "GPT-2 (fresh)",
        "GPT-2",
        "emergence-lake engine 1",
        "run r1 config c1",
        "2-shot",
    )
    pythia = _points(
        [("Pythia 160M", 162e6, 2.9e20, 0.5), ("Pythia 1B", 1.0e9, 1.8e21, 3.0)],
        "Pythia (fresh)",
        "Pythia",
        "emergence-lake engine 1",
        "run r2 config c2",
        "2-shot",
    )
    emergence = _emergence([("GPT-2 (fresh)", "emergent", None, 1.5e9, None, "GPT-2 1.5B")])
    spec = panel_chart(pl.concat([gpt2, pythia]), emergence, WIC, 0.0).to_dict()
    lines = next(n for n, d in _marks(spec) if _mark_type(n) == "line")
    x = lines["encoding"]["x"]
    assert x["field"] == "params" and x["axis"]["title"] == "Parameters (log scale)"
    drawn = next(d for n, d in _marks(spec) if _mark_type(n) == "line")
    assert {r["label"] for r in drawn} >= {"GPT-2 124M", "GPT-2 1.5B", "Pythia 1B"}
    assert _vertical_rules(spec) == {"GPT-2 (fresh)": 1.5e9}
    note = " ".join(_texts(spec))
    assert "Drawn on parameters, not training FLOPs: GPT-2 (fresh) has no training FLOPs" in note


# ---------------------------------------------------------------------------------------------
# Render only when changed.
# ---------------------------------------------------------------------------------------------


def test_chart_renders_again_only_when_its_data_changes(tmp_path: Path) -> None:
    first = write_chart(panel_chart(wic_points(), wic_emergence(), WIC, 50.0), tmp_path, "w")
    same = write_chart(panel_chart(wic_points(), wic_emergence(), WIC, 50.0), tmp_path, "w")
    assert first["rendered"] and not same["rendered"] and same["hash"] == first["hash"]
    moved = wic_points().with_columns(
        value=pl.when(pl.col("label") == "PaLM 540B").then(64.0).otherwise(pl.col("value"))
    )
    again = write_chart(panel_chart(moved, wic_emergence(), WIC, 50.0), tmp_path, "w")
    assert again["rendered"] and again["changed"] and again["hash"] != first["hash"]
    # a lost file is rendered again even though the hash matches
    again["preview"].unlink()
    restored = write_chart(panel_chart(moved, wic_emergence(), WIC, 50.0), tmp_path, "w")
    assert restored["rendered"] and restored["preview"].exists()


def test_subtitle_names_who_is_drawn_from_the_data() -> None:
    points = pl.concat(
        [
            wic_points().with_columns(origin=pl.lit("literature")),
            _points([("OPT 1.3B", 1.3e9, 2.3e21, 50.0)], "OPT", "OPT", "Ruan", "csv", "2-shot")
            .vstack(
                _points([("OPT 13B", 13e9, 2.3e22, 52.0)], "OPT", "OPT", "Ruan", "csv", "2-shot")
            )
            .with_columns(origin=pl.lit("obsscaling")),
            _points(
                [("GPT-2 124M", 124e6, None, 49.0)],
                "GPT-2 (fresh)",
                "GPT-2",
                "lake",
                "run",
                "2-shot",
            ).with_columns(origin=pl.lit("fresh")),
        ]
    )
    assert who_is_drawn(points) == (
        "PaLM, GPT-3; ObsScaling open models (1 family); the lake's evaluations of GPT-2"
    )
