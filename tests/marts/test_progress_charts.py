"""The training-progress and loss axes (issue 9 points 4 and 5) and Figure 2G with open models:
each chart builds from a small frame, each query reads a small warehouse built from schema.sql."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import duckdb
import polars as pl
import pytest

from marts.chart_files import inputs_hash, write_chart
from marts.loss_chart import X_TITLE, loss_caption, loss_chart
from marts.palette import family_colour, size_shades
from marts.panels import PANELS_BY_ID, panel_emergence, panel_points
from marts.progress_points import (
    TrainingView,
    loss_points,
    place_fresh_checkpoints,
    training_points,
)
from marts.training_chart import training_caption, training_chart
from sources.paths import PROJECT_ROOT

TOKENS_PER_STEP = 2_097_152.0
PYTHIA = TrainingView("training_test", "Emergence over training · Test", "Pythia", 0)
CITATION = "Biderman et al. 2023 (Pythia)"


# --------------------------------------------------------------------------------------------
# Small frames and a small warehouse.
# --------------------------------------------------------------------------------------------


def training_frame() -> pl.DataFrame:
    """Two sizes × steps 0, 1000, 143000 on two tasks, plus one fresh checkpoint model."""
    rows = []
    for params, model in ((70e6, "lm-eval/pythia-70m"), (12e9, "lm-eval/pythia-12b")):
        for step in (0, 1000, 143000):
            for task_id, task_name, random_level in (
                ("arc_easy", "ARC (Easy)", 25.0),
                ("lambada_openai", "LAMBADA", 0.0),
            ):
                tokens = step * TOKENS_PER_STEP
                rows.append(
                    {
                        "model_id": model,
                        "label": model.split("/")[1],
                        "family": "Pythia",
                        "params": params,
                        "weights": None,
                        "origin": "lmeval",
                        "task_id": task_id,
                        "task_name": task_name,
                        "shots": 0,
                        "value": 20.0 + step / 5000 + params / 1e9,
                        "unit": "percent",
                        "citation": CITATION,
                        "location": f"evals/{model}_step{step}.json",
                        "setting": f"0-shot, step {step}",
                        "random_level": random_level,
                        "checkpoint_step": step,
                        "tokens_seen": tokens,
                        "checkpoint_flops": 6 * params * tokens,
                    }
                )
    return pl.DataFrame(rows)


def _specs(chart: Any) -> dict[str, Any]:
    return chart.to_dict()


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _rows(spec: dict[str, Any], column: str) -> list[dict[str, Any]]:
    """The drawn rows that carry `column` (Altair keeps data in the top-level `datasets`)."""
    return [row for rows in spec.get("datasets", {}).values() for row in rows if column in row]


def _facets(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return spec["vconcat"][0]["concat"]


def _texts(spec: dict[str, Any]) -> str:
    return json.dumps(spec, ensure_ascii=False)


@pytest.fixture
def warehouse() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(":memory:")
    con.execute((PROJECT_ROOT / "warehouse" / "schema.sql").read_text())
    con.execute((PROJECT_ROOT / "warehouse" / "views.sql").read_text())
    yield con
    con.close()


def _model(con, model_id, family, params, weights=None, revision=None, origin="lmeval"):
    con.execute(
        "INSERT INTO models (model_id, family, label, params, train_tokens, train_flops, "
        "flops_basis, weights, revision, origin, source) VALUES (?, ?, ?, ?, 3e11, ?, "
        "'estimated_6nd', ?, ?, ?, 'test')",
        [model_id, family, model_id, params, 6 * params * 3e11, weights, revision, origin],
    )


def _task(con, task_id, name, random_level, metrics=("accuracy",)):
    con.execute(
        "INSERT INTO tasks VALUES (?, ?, 'test', NULL, 'accuracy', NULL, 'test', 'test')",
        [task_id, name],
    )
    for metric in metrics:
        unit = "perplexity" if metric == "perplexity" else "percent"
        level = None if metric == "perplexity" else random_level
        con.execute(
            "INSERT INTO task_metrics VALUES (?, ?, ?, ?, ?, 'test')",
            [task_id, metric, unit, metric != "perplexity", level],
        )


def _result(
    con, model_id, task_id, metric, value, *, shots=0, step=None, origin="lmeval", final=None
):
    setting = f"{shots}-shot" + (f", step {step}" if step is not None else "")
    tokens = step * TOKENS_PER_STEP if step is not None and origin != "fresh" else None
    flops = None
    if tokens is not None:
        (params,) = con.execute(
            "SELECT params FROM models WHERE model_id = ?", [model_id]
        ).fetchone()
        flops = 6 * params * tokens
    con.execute(
        "INSERT INTO results (model_id, task_id, shots, prompting, setting, metric, value, unit, "
        "origin, citation, location, source_file, in_wei_figure, checkpoint_step, tokens_seen, "
        "checkpoint_flops, final_checkpoint) VALUES (?, ?, ?, 'standard', ?, ?, ?, ?, ?, ?, "
        "'loc', 'file', false, ?, ?, ?, ?)",
        [
            model_id,
            task_id,
            shots,
            setting,
            metric,
            value,
            "perplexity" if metric == "perplexity" else "percent",
            origin,
            CITATION if origin != "fresh" else "emergence-lake engine",
            step if origin != "fresh" else None,
            tokens,
            flops,
            final,
        ],
    )


# --------------------------------------------------------------------------------------------
# Point 4: the training-progress axis.
# --------------------------------------------------------------------------------------------


def test_training_chart_builds_one_facet_per_task_on_a_log_flops_axis() -> None:
    spec = _specs(training_chart(training_frame(), PYTHIA))
    facets = _facets(spec)
    assert [f["title"]["text"] for f in facets] == ["ARC (Easy) · 0-shot", "LAMBADA · 0-shot"]
    for facet in facets:
        line = facet["layer"][0]
        assert line["mark"]["type"] == "line"
        assert line["encoding"]["x"]["field"] == "checkpoint_flops"
        assert line["encoding"]["x"]["scale"]["type"] == "log"
        assert line["encoding"]["detail"]["field"] == "line"
        dashed = [
            layer
            for layer in facet["layer"]
            if isinstance(layer.get("mark"), dict) and layer["mark"].get("strokeDash")
        ]
        assert len(dashed) == 1, "one dashed random rule per facet"
    levels = sorted(f["layer"][2]["encoding"]["y"]["datum"] for f in facets)
    assert levels == [0.0, 25.0]


def test_training_chart_leaves_step_zero_off_the_log_axis_and_says_so() -> None:
    points = training_frame()
    spec = _specs(training_chart(points, PYTHIA))
    drawn = _rows(spec, "checkpoint_flops")
    assert drawn and all(row["checkpoint_flops"] > 0 for row in drawn)
    assert "no place on a log axis: 4 results not drawn" in _texts(spec)


def test_training_lines_are_shades_of_the_family_colour_light_to_dark() -> None:
    spec = _specs(training_chart(training_frame(), PYTHIA))
    scale = next(
        node["scale"]
        for node in _walk(spec)
        if node.get("field") == "line" and isinstance(node.get("scale"), dict)
    )
    assert scale["domain"] == ["70M", "12B"]
    assert scale["range"] == size_shades("Pythia", 2)
    light, dark = (sum(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in scale["range"])
    assert light > dark, "the smaller model is the lighter shade"


def test_size_shades_keep_the_hue_and_differ() -> None:
    shades = size_shades("OPT", 5)
    assert len(set(shades)) == 5
    assert size_shades("OPT", 1) == [family_colour("OPT")]


def test_training_caption_counts_sizes_checkpoints_and_tasks() -> None:
    assert training_caption(training_frame()) == (
        "2 sizes × up to 2 checkpoints on 2 tasks (8 points)."
    )


def test_training_chart_without_points_fails_with_the_view() -> None:
    with pytest.raises(ValueError, match="training_test: no checkpoint results"):
        training_chart(training_frame().head(0), PYTHIA)


def test_training_frame_missing_a_column_fails_with_its_name() -> None:
    with pytest.raises(ValueError, match="checkpoint_flops"):
        training_chart(training_frame().drop("checkpoint_flops"), PYTHIA)


def test_fresh_checkpoint_gets_tokens_and_flops_from_its_suite() -> None:
    frame = pl.DataFrame(
        {
            "weights": ["EleutherAI/pythia-410m-deduped", "someone/unknown", None],
            "params": [405e6, 1e8, 70e6],
            "checkpoint_step": [3000, 3000, 1000],
            "tokens_seen": [None, None, 1000 * TOKENS_PER_STEP],
            "checkpoint_flops": [None, None, 1.5],  # an lm-eval row keeps its own value
        },
        schema_overrides={"tokens_seen": pl.Float64, "checkpoint_flops": pl.Float64},
    )
    placed = place_fresh_checkpoints(frame, {"EleutherAI/pythia-410m-deduped": TOKENS_PER_STEP})
    assert placed["tokens_seen"].to_list() == [3000 * TOKENS_PER_STEP, None, 1000 * TOKENS_PER_STEP]
    assert placed["checkpoint_flops"].to_list() == [6 * 405e6 * 3000 * TOKENS_PER_STEP, None, 1.5]


def test_training_points_read_checkpoints_and_fresh_step_revisions(warehouse) -> None:
    con = warehouse
    _task(con, "arc_easy", "ARC (Easy)", 25.0)
    _task(con, "mmlu/anatomy", "MMLU anatomy", 25.0)
    _task(con, "word_unscrambling", "Word unscramble", 0.0)
    _model(con, "lm-eval/pythia-70m", "Pythia", 70e6)
    _model(con, "gpt3-175b", "GPT-3", 175e9, origin="literature")
    for step, value in ((1000, 26.0), (143000, 40.0)):
        _result(
            con,
            "lm-eval/pythia-70m",
            "arc_easy",
            "accuracy",
            value,
            step=step,
            final=step == 143000,
        )
        _result(con, "lm-eval/pythia-70m", "arc_easy", "accuracy", value, shots=5, step=step)
        _result(con, "lm-eval/pythia-70m", "mmlu/anatomy", "accuracy", value, step=step)
    _result(con, "lm-eval/pythia-70m", "arc_easy", "accuracy_norm", 30.0, step=1000)
    _result(con, "gpt3-175b", "arc_easy", "accuracy", 70.0, origin="literature")
    # The lake's own evaluation of one model at two revisions: a checkpoint and main.
    weights = "EleutherAI/pythia-410m-deduped"
    _model(con, "p410-step3000", "Pythia", 405e6, weights, "step3000", "registry")
    _model(con, "p410-main", "Pythia", 405e6, weights, "main", "registry")
    for model_id in ("p410-step3000", "p410-main"):
        _result(con, model_id, "word_unscrambling", "accuracy", 3.0, shots=2, origin="fresh")

    points = training_points(con, PYTHIA, {weights: TOKENS_PER_STEP})
    lmeval = points.filter(pl.col("origin") == "lmeval")
    assert lmeval["checkpoint_step"].to_list() == [1000, 143000]
    assert set(lmeval["task_id"]) == {"arc_easy"}, "0-shot accuracy only, no MMLU subjects"
    fresh = points.filter(pl.col("origin") == "fresh")
    assert fresh["model_id"].to_list() == ["p410-step3000"], "revision main has no checkpoint"
    assert fresh["checkpoint_step"].to_list() == [3000]
    assert fresh["checkpoint_flops"].to_list() == [6 * 405e6 * 3000 * TOKENS_PER_STEP]
    spec = _specs(training_chart(points, PYTHIA))
    titles = [f["title"]["text"] for f in _facets(spec)]
    assert titles == ["ARC (Easy) · 0-shot", "Word unscramble · 2-shot (fresh)"]
    assert "405M (fresh)" in _texts(spec), "the fresh line is named by its size"


# --------------------------------------------------------------------------------------------
# Point 5: the loss axis.
# --------------------------------------------------------------------------------------------


def loss_frame() -> pl.DataFrame:
    rows = []
    for family, model, params, steps in (
        ("Pythia", "lm-eval/pythia-70m", 70e6, (1000, 143000)),
        ("OPT", "lm-eval/opt-125m", 125e6, (None,)),
        ("OPT", "lm-eval/opt-1.3b", 1.3e9, (None,)),
    ):
        for step in steps:
            ppl = 5000.0 if step == 1000 else 30.0 if family == "Pythia" else 20.0 - params / 1e9
            rows.append(
                {
                    "model_id": model,
                    "label": model.split("/")[1],
                    "family": family,
                    "params": params,
                    "task_id": "piqa",
                    "task_name": "PIQA",
                    "value": 100 - ppl / 100,
                    "unit": "percent",
                    "citation": CITATION,
                    "location": "loc",
                    "setting": "0-shot",
                    "random_level": 50.0,
                    "checkpoint_step": step,
                    "lambada_perplexity": ppl,
                }
            )
    return pl.DataFrame(rows, schema_overrides={"checkpoint_step": pl.Int64})


def test_loss_chart_puts_lambada_perplexity_on_a_reversed_log_axis() -> None:
    spec = _specs(loss_chart(loss_frame()))
    (facet,) = _facets(spec)
    x = facet["layer"][0]["encoding"]["x"]
    assert x["field"] == "lambada_perplexity"
    assert x["scale"]["type"] == "log" and x["scale"]["reverse"] is True
    assert x["axis"]["title"] == X_TITLE == "LAMBADA perplexity (lower = better)"
    colour = facet["layer"][0]["encoding"]["color"]
    assert colour["field"] == "family"
    assert dict(zip(colour["scale"]["domain"], colour["scale"]["range"], strict=True)) == {
        "Pythia": family_colour("Pythia"),
        "OPT": family_colour("OPT"),
    }


def test_loss_lines_join_checkpoints_of_a_model_and_sizes_of_a_released_family() -> None:
    spec = _specs(loss_chart(loss_frame()))
    rows = _rows(spec, "lambada_perplexity")
    lines = {row["model_id"]: row["line"] for row in rows}
    assert lines == {
        "lm-eval/pythia-70m": "lm-eval/pythia-70m",
        "lm-eval/opt-125m": "OPT",
        "lm-eval/opt-1.3b": "OPT",
    }
    assert loss_caption(loss_frame()) == (
        "3 models (Pythia, OPT) on 1 tasks, 4 points placed by their own LAMBADA perplexity."
    )


def test_loss_points_pair_accuracy_with_the_same_checkpoints_perplexity(warehouse) -> None:
    con = warehouse
    _task(con, "lambada_openai", "LAMBADA", 0.0, metrics=("accuracy", "perplexity"))
    _task(con, "piqa", "PIQA", 50.0)
    _model(con, "lm-eval/pythia-70m", "Pythia", 70e6)
    _model(con, "lm-eval/opt-125m", "OPT", 125e6)
    _model(con, "palm-8b", "PaLM", 8e9, origin="literature")
    for step, ppl in ((1000, 900.0), (143000, 40.0)):
        _result(con, "lm-eval/pythia-70m", "lambada_openai", "perplexity", ppl, step=step)
        _result(con, "lm-eval/pythia-70m", "piqa", "accuracy", 60.0 + step / 1e4, step=step)
    _result(con, "lm-eval/pythia-70m", "piqa", "accuracy", 61.0, shots=5, step=1000)
    _result(con, "lm-eval/opt-125m", "lambada_openai", "perplexity", 26.0)
    _result(con, "lm-eval/opt-125m", "piqa", "accuracy", 62.0)
    _result(con, "palm-8b", "piqa", "accuracy", 77.0, origin="literature")  # no perplexity

    points = loss_points(con).filter(pl.col("task_id") == "piqa")
    pairs = {
        (r["model_id"], r["checkpoint_step"]): (r["value"], r["lambada_perplexity"])
        for r in points.iter_rows(named=True)
    }
    assert pairs == {
        ("lm-eval/pythia-70m", 1000): (60.1, 900.0),
        ("lm-eval/pythia-70m", 143000): (74.3, 40.0),
        ("lm-eval/opt-125m", None): (62.0, 26.0),
    }


# --------------------------------------------------------------------------------------------
# Figure 2G with open models: released checkpoints only, a family's fallback shots named.
# --------------------------------------------------------------------------------------------


def test_fig2g_open_models_draws_final_checkpoints_and_names_fallback_shots(warehouse) -> None:
    con = warehouse
    _task(con, "mmlu", "MMLU", 25.0)
    _model(con, "gpt3-175b", "GPT-3", 175e9, origin="literature")
    _model(con, "lm-eval/pythia-12b", "Pythia", 12e9)
    _model(con, "lm-eval/opt-66b", "OPT", 66e9)
    _result(con, "gpt3-175b", "mmlu", "accuracy", 43.9, shots=5, origin="literature")
    _result(con, "gpt3-175b", "mmlu", "accuracy", 37.7, shots=0, origin="literature")
    _result(con, "lm-eval/pythia-12b", "mmlu", "accuracy", 26.0, shots=5, step=143000, final=True)
    _result(con, "lm-eval/pythia-12b", "mmlu", "accuracy", 23.0, shots=5, step=3000, final=False)
    _result(con, "lm-eval/pythia-12b", "mmlu", "accuracy", 25.0, shots=0, step=143000, final=True)
    _result(con, "lm-eval/opt-66b", "mmlu", "accuracy", 27.0, shots=0)
    con.execute(
        "INSERT INTO emergence (task_id, family, shots, prompting, metric, origin, n_models, "
        "scale_axis, classification, method) VALUES "
        "('mmlu', 'OPT', 0, 'standard', 'accuracy', 'lmeval', 8, 'train_flops', 'smooth', 't'), "
        "('mmlu', 'Pythia', 0, 'standard', 'accuracy', 'lmeval', 7, 'train_flops', 'smooth', 't')"
    )
    panel = PANELS_BY_ID["fig2g_mmlu_open_models"]
    points = panel_points(con, panel)
    got = {(r["series"], r["value"]) for r in points.iter_rows(named=True)}
    assert got == {("GPT-3", 43.9), ("Pythia", 26.0), ("OPT (0-shot)", 27.0)}
    emergence = panel_emergence(con, panel, points)
    assert emergence["series"].to_list() == ["OPT (0-shot)"], "Pythia's 0-shot row is not drawn"


def test_size_axis_panels_ignore_intermediate_checkpoints(warehouse) -> None:
    con = warehouse
    _task(con, "mmlu", "MMLU", 25.0)
    _model(con, "lm-eval/pythia-12b", "Pythia", 12e9)
    _result(con, "lm-eval/pythia-12b", "mmlu", "accuracy", 23.0, shots=5, step=3000, final=False)
    assert panel_points(con, PANELS_BY_ID["fig2g_mmlu_open_models"]).height == 0


# --------------------------------------------------------------------------------------------
# Escaping, render once, colours: the new charts follow chart_files.py like the panels.
# --------------------------------------------------------------------------------------------

HOSTILE = "</script><script>alert(1)</script>"


@pytest.mark.parametrize("which", ["training", "loss"])
def test_hostile_citation_stays_text_in_the_new_charts_pages(tmp_path, which: str) -> None:
    if which == "training":
        chart = training_chart(training_frame().with_columns(citation=pl.lit(HOSTILE)), PYTHIA)
    else:
        chart = loss_chart(loss_frame().with_columns(task_name=pl.lit(HOSTILE)))
    page = write_chart(chart, tmp_path, which)["html"].read_text(encoding="utf-8")
    assert HOSTILE not in page and "alert(1)</script>" not in page.split("const spec = ", 1)[1]
    embedded = json.loads(page.split("const spec = ", 1)[1].split(";\n", 1)[0])
    assert HOSTILE in _texts(embedded), "the text arrives intact, as data drawn as text"


def test_training_chart_is_built_and_rendered_only_when_its_inputs_change(tmp_path) -> None:
    points = training_frame()
    built: list[int] = []

    def build(frame: pl.DataFrame):
        built.append(1)
        return training_chart(frame, PYTHIA)

    first = write_chart(lambda: build(points), tmp_path, "t", key=inputs_hash(points, PYTHIA))
    same = write_chart(lambda: build(points), tmp_path, "t", key=inputs_hash(points, PYTHIA))
    assert first["rendered"] and not same["rendered"] and len(built) == 1
    moved = points.with_columns(value=pl.col("value") + 1)
    again = write_chart(lambda: build(moved), tmp_path, "t", key=inputs_hash(moved, PYTHIA))
    assert again["rendered"] and again["changed"] and len(built) == 2


def test_lm_eval_families_on_the_loss_axis_have_distinct_colours() -> None:
    colours = [family_colour(f) for f in ("Pythia", "Pythia-deduped", "OPT", "BLOOM")]
    assert len(set(colours)) == 4
