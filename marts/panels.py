"""The figure panels the lake draws, described as data, and the SQL that feeds each one.

A panel names the task, metric and setting behind it; `panel_points` reads its points from the
warehouse's `results_with_scale` view and `panel_emergence` the matching `emergence` rows, both
with bound parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from marts.panel_chart import FamilyGapNote

OBSSCALING_MIN_MODELS = 3  # families with fewer models are in the warehouse but not drawn


@dataclass(frozen=True)
class Panel:
    panel_id: str
    title: str
    subtitle: str  # task, setting, metric; who is drawn is added from the data
    y_title: str
    task_id: str | None  # None: the paper's panel has no data in any source the lake reads
    metric: str | None = None
    shots: int | None = None
    prompting: tuple[str, ...] = ("standard",)
    origins: tuple[str, ...] = ("literature",)
    wei_series_only: bool = False  # draw only the points in the series Wei et al. plot
    notes: tuple[str, ...] = ()  # true whatever the data: method, source, task identity
    no_data_reason: str = ""
    # Shot counts drawn, in order of preference, for a family with no result at `shots`; such a
    # series is named with its shots ('OPT (0-shot)').
    fallback_shots: tuple[int, ...] = ()
    # Notes about what the sources lack, shown only while the lake still lacks it.
    gap_notes: tuple[FamilyGapNote, ...] = ()
    # Shots of the standard (baseline) series when they differ from the method's: ObsScaling ran
    # GSM8K standard 5-shot and chain of thought 8-shot; the detector pairs them the same way and
    # records the pairing in `emergence.baseline_shots`.
    baseline_shots: int | None = None


VARIANT = (
    "Close variant: ObsScaling measured BIG-bench `arithmetic` ({0}); the paper plots "
    "`modified_arithmetic` (same operations, a modified operator symbol)."
)
OBS_NOTE = f"ObsScaling families with at least {OBSSCALING_MIN_MODELS} models on the FLOPs axis; FLOPs are the authors' 6·N·D."

PANELS: tuple[Panel, ...] = (
    Panel(
        "fig2a_3_digit_addition",
        "Figure 2A · Arithmetic (3-digit addition)",
        "BIG-bench arithmetic/3_digit_addition, 2-shot, exact_str_match (%)",
        "Exact match (%)",
        "arithmetic/3_digit_addition",
        "exact_str_match",
        2,
        origins=("obsscaling", "fresh"),
        notes=(VARIANT.format("3-digit addition"), OBS_NOTE),
    ),
    Panel(
        "fig2a_3_digit_subtraction",
        "Figure 2A · Arithmetic (3-digit subtraction)",
        "BIG-bench arithmetic/3_digit_subtraction, 2-shot, exact_str_match (%)",
        "Exact match (%)",
        "arithmetic/3_digit_subtraction",
        "exact_str_match",
        2,
        origins=("obsscaling", "fresh"),
        notes=(VARIANT.format("3-digit subtraction"), OBS_NOTE),
    ),
    Panel(
        "fig2a_2_digit_multiplication",
        "Figure 2A · Arithmetic (2-digit multiplication)",
        "BIG-bench arithmetic/2_digit_multiplication, 2-shot, exact_str_match (%)",
        "Exact match (%)",
        "arithmetic/2_digit_multiplication",
        "exact_str_match",
        2,
        origins=("obsscaling", "fresh"),
        notes=(VARIANT.format("2-digit multiplication"), OBS_NOTE),
    ),
    Panel(
        "fig2b_ipa_transliterate",
        "Figure 2B · IPA transliterate",
        "BIG-bench international_phonetic_alphabet_transliterate, 2-shot, BLEU (0-100)",
        "BLEU",
        "international_phonetic_alphabet_transliterate",
        "bleu",
        2,
        origins=("obsscaling", "fresh"),
        notes=(OBS_NOTE,),
    ),
    Panel(
        "fig2c_word_unscramble",
        "Figure 2C · Word unscramble",
        "BIG-bench word_unscrambling, 2-shot, exact_str_match (%)",
        "Exact match (%)",
        "word_unscrambling",
        "exact_str_match",
        2,
        origins=("obsscaling", "fresh"),
        notes=(OBS_NOTE,),
    ),
    Panel(
        "fig2d_persian_qa",
        "Figure 2D · Persian QA (multiple choice)",
        "BIG-bench parsinlu_qa, 2-shot, multiple_choice_grade (%)",
        "Accuracy (%)",
        "parsinlu_qa",
        "multiple_choice_grade",
        2,
        origins=("obsscaling", "fresh"),
        notes=(
            "Task identity: which BIG-bench task Wei et al.'s 'Persian QA' shows is not stated; "
            "ObsScaling measured parsinlu_qa. Random = mean 1/(options) over the task's examples.",
            OBS_NOTE,
        ),
    ),
    Panel(
        "fig2d_persian_reading_comprehension",
        "Figure 2D · Persian QA (PaLM, reading comprehension)",
        "BIG-bench parsinlu_reading_comprehension, few-shot (shots not stated), BIG-bench score",
        "BIG-bench score",
        "parsinlu_reading_comprehension",
        "bigbench_score",
        None,
        notes=("Assumed to be Wei et al.'s 'Persian QA' (an inference from PaLM Appendix H.2).",),
        gap_notes=(
            FamilyGapNote(
                "LaMDA",
                "The paper's LaMDA curve lives only in the BIG-bench repository's results files.",
                max_models=0,
            ),
            FamilyGapNote(
                "GPT-3",
                "The paper's GPT-3 curve lives only in the BIG-bench repository's results files.",
                max_models=0,
            ),
        ),
    ),
    Panel(
        "fig2e_truthfulqa",
        "Figure 2E · TruthfulQA",
        "TruthfulQA multiple choice, 0-shot, accuracy (%)",
        "Accuracy (%)",
        "truthfulqa_mc",
        "accuracy",
        0,
        notes=(
            "No random level is stated. Chinchilla 70B is supplementary (not in Wei et al.'s panel).",
        ),
        gap_notes=(
            FamilyGapNote(
                "Gopher",
                "Only the largest Gopher is in a printed table; the smaller Gopher sizes Wei et al. "
                "plot are figure-only, so the lake cannot draw the curve.",
            ),
        ),
    ),
    Panel(
        "fig2f_grounded_mappings",
        "Figure 2F · Grounded conceptual mappings",
        "Patel & Pavlick 2022, GPT-3",
        "Accuracy (%)",
        None,
        no_data_reason="No printed table holds the GPT-3 curve of Patel & Pavlick (2022); the lake does not read numbers off plots.",
    ),
    Panel(
        "fig2g_mmlu",
        "Figure 2G · Multi-task NLU (MMLU)",
        "MMLU, 5-shot, accuracy averaged over 57 tasks (%)",
        "Accuracy (%)",
        "mmlu",
        "accuracy",
        5,
        notes=(
            "GPT-3 sizes follow the MMLU paper's mapping of API engines (Ada 2.7B … Davinci 175B). "
            "PaLM is not in Wei et al.'s panel (supplementary).",
        ),
        gap_notes=(
            FamilyGapNote("Gopher", "Smaller Gopher sizes are figure-only (no printed table)."),
            FamilyGapNote(
                "Chinchilla", "Smaller Chinchilla sizes are figure-only (no printed table)."
            ),
        ),
    ),
    Panel(
        "fig2g_mmlu_open_models",
        "Figure 2G · MMLU, with open models (Pythia, OPT, BLOOM)",
        "MMLU, 5-shot (0-shot where a family has no 5-shot result), accuracy averaged over 57 tasks (%)",
        "Accuracy (%)",
        "mmlu",
        "accuracy",
        5,
        origins=("literature", "lmeval"),
        fallback_shots=(0,),
        notes=(
            "Open models: the Pythia authors' published lm-eval results, released models only "
            "(final checkpoint). The lm-eval MMLU value is the unweighted mean of the 57 subjects. "
            "OPT and BLOOM were evaluated 0-shot only, so they are drawn 0-shot and named so.",
            "GPT-3 sizes follow the MMLU paper's mapping of API engines (Ada 2.7B … Davinci 175B).",
        ),
        gap_notes=(
            FamilyGapNote("Gopher", "Smaller Gopher sizes are figure-only (no printed table)."),
            FamilyGapNote(
                "Chinchilla", "Smaller Chinchilla sizes are figure-only (no printed table)."
            ),
        ),
    ),
    Panel(
        "fig2h_wic",
        "Figure 2H · Word in Context (WiC)",
        "WiC (SuperGLUE), one-shot, accuracy (%)",
        "Accuracy (%)",
        "wic",
        "accuracy",
        1,
        notes=(
            "GPT-3 one-shot WiC per size: Brown et al. Table H.1 (dev set); its zero-shot row is 0.00 for every "
            "size, a format failure, so it is not drawn.",
        ),
        gap_notes=(FamilyGapNote("Chinchilla", "Chinchilla WiC is figure-only.", max_models=0),),
    ),
    Panel(
        "fig3a_gsm8k_chain_of_thought",
        "Figure 3A · Math word problems (GSM8K)",
        "GSM8K, 8 exemplars, accuracy (%), chain-of-thought vs standard prompting",
        "Accuracy (%)",
        "gsm8k",
        "accuracy",
        8,
        prompting=("standard", "chain_of_thought"),
        wei_series_only=True,
        notes=("Emergence here is where chain of thought starts to beat standard prompting.",),
    ),
    Panel(
        "fig3a_gsm8k_chain_of_thought_open_models",
        "Figure 3A · GSM8K with open models (ObsScaling)",
        "GSM8K, chain of thought 8-shot vs standard 5-shot, exact_match_flexible (%)",
        "Exact match, flexible (%)",
        "gsm8k",
        "exact_match_flexible",
        8,
        prompting=("standard", "chain_of_thought"),
        origins=("obsscaling",),
        baseline_shots=5,
        notes=(
            "Emergence here is where chain of thought starts to beat standard prompting. "
            "ObsScaling (Ruan et al. 2024, base_llm_post_training_eval.csv) ran chain of thought "
            "8-shot and standard prompting 5-shot only, so the baseline is 5-shot (the detector "
            "pairs the nearest shots).",
            "Metric: lm-eval's flexible-extract filter (the last number in the answer), for both "
            "prompts alike; strict-match also needs the exemplars' answer format, so it scores "
            "whether a base model copies the format as well as the arithmetic. Greedy, one "
            "sample (the majority-of-5 columns are not drawn).",
            OBS_NOTE,
        ),
    ),
    Panel(
        "fig3b_instruction_tuning",
        "Figure 3B · Instruction following (FLAN)",
        "10 NLU tasks, instruction tuning vs none",
        "Average score",
        None,
        no_data_reason="FLAN's per-size curve is figure-only; no printed table in the curated sources.",
    ),
    Panel(
        "fig3c_scratchpad",
        "Figure 3C · 8-digit addition (scratchpad)",
        "Nye et al. 2021, scratchpad vs none",
        "Accuracy (%)",
        None,
        no_data_reason="Nye et al.'s per-size accuracies are figure-only; no printed table in the curated sources.",
    ),
    Panel(
        "fig3d_calibration",
        "Figure 3D · Calibration (T/F)",
        "Kadavath et al. 2022, letter choices vs T/F",
        "ECE (%)",
        None,
        no_data_reason="Kadavath et al.'s per-size calibration is figure-only; no printed table in the curated sources.",
    ),
)

PANELS_BY_ID = {p.panel_id: p for p in PANELS}


def panel_points(con: duckdb.DuckDBPyConnection, panel: Panel) -> pl.DataFrame:
    """One row per drawn point, with the `series` each line is named by."""
    if panel.task_id is None:
        return pl.DataFrame()
    frame = _candidate_points(con, panel)
    if frame.height == 0:
        return frame
    small = _small_obsscaling_families(frame)["family"]
    frame = frame.filter(
        ~((pl.col("origin") == "obsscaling") & pl.col("family").is_in(small.implode()))
    )
    return frame.sort("series", "train_flops", nulls_last=True)


def _candidate_points(con: duckdb.DuckDBPyConnection, panel: Panel) -> pl.DataFrame:
    """Every point the panel could draw, before small ObsScaling families are left out."""
    frame = con.execute(
        """
        SELECT model_id, model_label AS label, family, train_flops, params, value, unit,
               citation, location, setting, prompting, origin, in_wei_figure, shots
        FROM results_with_scale
        WHERE task_id = ? AND metric = ?
          AND CASE WHEN prompting = 'standard' AND ? IS NOT NULL THEN shots = ?
                   ELSE shots IS NOT DISTINCT FROM ? OR list_contains(?, shots) END
          AND list_contains(?, prompting) AND list_contains(?, origin)
          AND final_checkpoint IS NOT FALSE
        """,
        [
            panel.task_id,
            panel.metric,
            panel.baseline_shots,
            panel.baseline_shots,
            panel.shots,
            list(panel.fallback_shots),
            list(panel.prompting),
            list(panel.origins),
        ],
    ).pl()
    frame = _preferred_shots(frame, panel)
    if panel.wei_series_only:
        frame = frame.filter(pl.col("in_wei_figure"))
    if frame.height == 0:
        return frame
    return _mean_per_model(frame).with_columns(_series_name(panel))


def _small_obsscaling_families(frame: pl.DataFrame) -> pl.DataFrame:
    """ObsScaling families with fewer than OBSSCALING_MIN_MODELS models on the FLOPs axis (a
    family's method and baseline series go together): columns family, models, on_axis."""
    return (
        frame.filter(pl.col("origin") == "obsscaling")
        .group_by("family")
        .agg(
            models=pl.col("model_id").n_unique(),
            on_axis=pl.col("model_id").filter(pl.col("train_flops").is_not_null()).n_unique(),
        )
        .filter(pl.col("on_axis") < OBSSCALING_MIN_MODELS)
        .sort("family")
    )


def panel_left_out_note(con: duckdb.DuckDBPyConnection, panel: Panel) -> str | None:
    """Which ObsScaling families the panel leaves out (too few models to read a trend), counted
    from the warehouse so the note follows the data."""
    if panel.task_id is None or "obsscaling" not in panel.origins:
        return None
    frame = _candidate_points(con, panel)
    if frame.height == 0:
        return None
    small = _small_obsscaling_families(frame)
    if small.height == 0:
        return None
    drawn = frame.filter(pl.col("origin") == "obsscaling")["family"].n_unique() - small.height
    names = ", ".join(
        f"{r['family']} {r['on_axis']}/{r['models']}" for r in small.iter_rows(named=True)
    )
    return (
        f"Left out: {small.height} of {drawn + small.height} ObsScaling families "
        f"({small['models'].sum()} models) have fewer than {OBSSCALING_MIN_MODELS} models with "
        f"training FLOPs (with FLOPs/all): {names}."
    )


def _preferred_shots(frame: pl.DataFrame, panel: Panel) -> pl.DataFrame:
    """Per family and origin, only the most preferred shot count it has: the panel's, else the
    first fallback it has (a family is never drawn twice at two shot counts)."""
    if not panel.fallback_shots or frame.height == 0:
        return frame
    preference = {shots: rank for rank, shots in enumerate(panel.fallback_shots, start=1)}
    rank = (
        pl.when(pl.col("shots").eq_missing(panel.shots))
        .then(0)
        .otherwise(pl.col("shots").replace_strict(preference, default=None, return_dtype=pl.Int64))
    )
    return frame.filter(rank == rank.min().over("family", "origin"))


def _series_name(panel: Panel) -> pl.Expr:
    """A line's name: 'LaMDA · chain-of-thought' when a panel compares prompts, else the family
    ('Pythia (fresh)' for the lake's own evaluations). Points and emergence rows use the same."""
    if len(panel.prompting) > 1:
        name = pl.format("{} · {}", pl.col("family"), pl.col("prompting").str.replace_all("_", "-"))
    else:
        name = (
            pl.when(pl.col("origin") == "fresh")
            .then(pl.format("{} (fresh)", pl.col("family")))
            .otherwise(pl.col("family"))
        )
    if panel.fallback_shots:
        name = (
            pl.when(pl.col("shots").eq_missing(panel.shots))
            .then(name)
            .otherwise(pl.format("{} ({}-shot)", name, pl.col("shots")))
        )
    return name.alias("series")


def _mean_per_model(frame: pl.DataFrame) -> pl.DataFrame:
    """A model printed by two papers is drawn once, at their mean, citing both."""
    return frame.group_by(["model_id", "prompting", "origin", "shots"], maintain_order=True).agg(
        pl.col("label").first(),
        pl.col("family").first(),
        pl.col("train_flops").first(),
        pl.col("params").first(),
        pl.col("value").mean(),
        pl.col("unit").first(),
        pl.col("citation").unique().str.join("; "),
        pl.col("location").unique().str.join("; "),
        pl.col("setting").first(),
    )


def panel_emergence(
    con: duckdb.DuckDBPyConnection, panel: Panel, points: pl.DataFrame
) -> pl.DataFrame:
    """Emergence rows of the panel's series, named like the points' series."""
    if panel.task_id is None or points.height == 0:
        return pl.DataFrame()
    method = [p for p in panel.prompting if p != "standard"] or ["standard"]
    frame = con.execute(
        """
        SELECT e.family, e.origin, e.prompting, e.shots, e.classification, e.emergent_flops,
               e.emergent_params, e.crossing_flops, m.label AS emergent_model_label
        FROM emergence e LEFT JOIN models m ON m.model_id = e.emergent_model_id
        WHERE e.task_id = ? AND e.metric = ?
          AND (e.shots IS NOT DISTINCT FROM ? OR list_contains(?, e.shots))
          AND list_contains(?, e.prompting) AND list_contains(?, e.origin)
          AND (? IS NULL OR e.baseline_shots = ?)
        """,
        [
            panel.task_id,
            panel.metric,
            panel.shots,
            list(panel.fallback_shots),
            method,
            list(panel.origins),
            panel.baseline_shots,
            panel.baseline_shots,
        ],
    ).pl()
    frame = frame.with_columns(_series_name(panel))
    return frame.filter(pl.col("series").is_in(points["series"].unique().implode()))


def panel_random_level(con: duckdb.DuckDBPyConnection, panel: Panel) -> float | None:
    if panel.task_id is None or len(panel.prompting) > 1:
        return None
    row = con.execute(
        "SELECT random_level FROM task_metrics WHERE task_id = ? AND metric = ?",
        [panel.task_id, panel.metric],
    ).fetchone()
    return row[0] if row else None
