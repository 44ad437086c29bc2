"""Figure 3A with open models: ObsScaling families, chain of thought 8-shot vs standard 5-shot,
their emergent scale from the `emergence` table, small families left out and counted."""

from __future__ import annotations

import json
from collections.abc import Iterator

import duckdb
import pytest

from marts.number_format import format_params
from marts.palette import family_colour
from marts.panel_chart import PanelSpec, panel_caption, panel_chart, series_colours
from marts.panels import (
    PANELS_BY_ID,
    panel_emergence,
    panel_left_out_note,
    panel_points,
    panel_random_level,
)
from sources.paths import PROJECT_ROOT

PANEL = PANELS_BY_ID["fig3a_gsm8k_chain_of_thought_open_models"]
METRIC = "exact_match_flexible"
# family -> sizes; Tiny has 2 models, under the 3-model floor, so it is left out.
FAMILIES = {
    "Pythia": (0.41e9, 1.4e9, 2.8e9, 6.9e9),
    "OPT": (1.3e9, 6.7e9, 30e9),
    "Tiny": (1e9, 2e9),
}


@pytest.fixture
def warehouse() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(":memory:")
    con.execute((PROJECT_ROOT / "warehouse" / "schema.sql").read_text())
    con.execute((PROJECT_ROOT / "warehouse" / "views.sql").read_text())
    con.execute("INSERT INTO tasks VALUES ('gsm8k', 'GSM8K', 'test', NULL, 'x', NULL, 't', 't')")
    con.execute("INSERT INTO task_metrics VALUES ('gsm8k', ?, 'percent', true, 0, 't')", [METRIC])
    for family, sizes in FAMILIES.items():
        for params in sizes:
            model_id = f"{family}-{params:g}"
            con.execute(
                "INSERT INTO models (model_id, family, label, params, train_tokens, train_flops, "
                "flops_basis, origin, source) VALUES (?, ?, ?, ?, 3e11, ?, 'estimated_6nd', "
                "'obsscaling', 'test')",
                [model_id, family, model_id, params, 6 * params * 3e11],
            )
            # Chain of thought climbs with size; standard stays low.
            _result(con, model_id, "chain_of_thought", 8, params / 1e8)
            _result(con, model_id, "standard", 5, 2.0)
            _result(con, model_id, "standard", 8, 99.0)  # wrong shots: never drawn
    yield con
    con.close()


def _result(con, model_id: str, prompting: str, shots: int, value: float) -> None:
    con.execute(
        "INSERT INTO results (model_id, task_id, shots, prompting, setting, metric, value, unit, "
        "origin, citation, location, source_file, in_wei_figure) VALUES (?, 'gsm8k', ?, ?, ?, ?, "
        "?, 'percent', 'obsscaling', 'Ruan et al. 2024 <b>', 'loc', 'file', false)",
        [model_id, shots, prompting, f"{shots}-shot", METRIC, value],
    )


def _emergence(con, family: str, classification: str, params: float | None, baseline_shots: int):
    con.execute(
        "INSERT INTO emergence (task_id, family, shots, prompting, baseline_prompting, metric, "
        "origin, n_models, scale_axis, classification, emergent_model_id, emergent_flops, "
        "emergent_params, method, baseline_shots) VALUES ('gsm8k', ?, 8, 'chain_of_thought', "
        "'standard', ?, 'obsscaling', 4, 'train_flops', ?, ?, ?, ?, 't', ?)",
        [
            family,
            METRIC,
            classification,
            None if params is None else f"{family}-{params:g}",
            None if params is None else 6 * params * 3e11,
            params,
            baseline_shots,
        ],
    )


def test_open_models_panel_draws_families_with_their_emergent_scale(warehouse) -> None:
    con = warehouse
    _emergence(con, "Pythia", "emergent", 2.8e9, baseline_shots=5)
    _emergence(con, "OPT", "smooth", None, baseline_shots=5)
    _emergence(con, "Tiny", "emergent", 2e9, baseline_shots=5)  # a family not drawn
    points = panel_points(con, PANEL)
    series = set(points["series"])
    assert series == {
        "Pythia · chain-of-thought",
        "Pythia · standard",
        "OPT · chain-of-thought",
        "OPT · standard",
    }
    assert set(points.filter(points["prompting"] == "standard")["value"]) == {2.0}, "5-shot only"
    emergence = panel_emergence(con, PANEL, points)
    assert sorted(emergence["series"]) == ["OPT · chain-of-thought", "Pythia · chain-of-thought"]

    left_out = panel_left_out_note(con, PANEL)
    assert left_out is not None
    assert "1 of 3 ObsScaling families (2 models)" in left_out and "Tiny 2/2" in left_out

    spec = PanelSpec(PANEL.panel_id, PANEL.title, PANEL.subtitle, PANEL.y_title, (left_out,))
    chart = panel_chart(points, emergence, spec, panel_random_level(con, PANEL))
    text = json.dumps(chart.to_dict(), ensure_ascii=False)
    assert f"Pythia · chain-of-thought: {format_params(2.8e9)}" in text, "the emergence rule label"
    assert "Tiny" in text and "Tiny ·" not in text, "Tiny only in the left-out note"
    caption = panel_caption(points, emergence)
    assert caption == (
        f"7 models in 4 series. Emergent: Pythia · chain-of-thought at {format_params(2.8e9)}."
    )
    colours = series_colours([(s, s.split(" · ")[0]) for s in series])
    assert colours["Pythia · chain-of-thought"] == family_colour("Pythia")
    assert colours["OPT · chain-of-thought"] == family_colour("OPT")


def test_open_models_panel_ignores_emergence_against_another_baseline(warehouse) -> None:
    """A chain-of-thought row paired with a standard series of other shots is not this panel's."""
    _emergence(warehouse, "Pythia", "emergent", 2.8e9, baseline_shots=8)
    points = panel_points(warehouse, PANEL)
    assert panel_emergence(warehouse, PANEL, points).height == 0


def test_no_left_out_note_when_every_family_is_drawn(warehouse) -> None:
    warehouse.execute("DELETE FROM results WHERE model_id LIKE 'Tiny-%'")
    assert panel_left_out_note(warehouse, PANEL) is None
    assert panel_left_out_note(warehouse, PANELS_BY_ID["fig3a_gsm8k_chain_of_thought"]) is None


def test_papers_panel_still_draws_only_wei_series(warehouse) -> None:
    """The paper's panel is unchanged: 'accuracy', 8 shots, Wei's series; no ObsScaling row."""
    assert panel_points(warehouse, PANELS_BY_ID["fig3a_gsm8k_chain_of_thought"]).height == 0
