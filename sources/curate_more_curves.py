"""Transcribe ../shared/literature/table1_more_curves.csv into the lake's curated results format.

The shared file (404 values, each read from a printed table, with the copies that agreed and a
trust level) holds the per-size curves behind Wei et al. Table 1 rows 1, 2, 16 and 20: Brown et
al. 2020 Table H.1 (GPT-3 arithmetic and WiC), Kojima et al. 2022 Tables 26-27 (zero-shot
chain of thought) and Tay et al. 2022 (differentiable search index). This script is the one
place that maps its labels onto the lake's model, task and metric ids; the values are copied as
text, exactly as printed. `tests/test_more_curves.py` re-runs the mapping and checks that the
committed CSVs match it cell for cell, so a hand edit that changes a number fails.

    .venv/bin/python -m sources.curate_more_curves ../shared/literature/table1_more_curves.csv

writes `sources/literature/results/{brown2020_gpt3_table_h1,kojima2022_zero_shot_cot,tay2022_dsi}.csv`.
The GPT-3 175B arithmetic values of Table H.1 are not written there: `brown2020_gpt3.csv` already
holds one row per 175B point (Table 3.9), and carries the Table H.1 value where the two differ
only by rounding (see `H1_175B_IN_BROWN_FILE`).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from sources.literature import RESULT_FILE_HEADER
from sources.paths import LITERATURE_DIR

BROWN = "Brown et al. 2020"  # the citation the existing GPT-3 rows use: one string per paper
ARITHMETIC_TASKS = {
    "2D+": "gpt3_arithmetic/2d_add",
    "2D-": "gpt3_arithmetic/2d_sub",
    "3D+": "gpt3_arithmetic/3d_add",
    "3D-": "gpt3_arithmetic/3d_sub",
    "4D+": "gpt3_arithmetic/4d_add",
    "4D-": "gpt3_arithmetic/4d_sub",
    "5D+": "gpt3_arithmetic/5d_add",
    "5D-": "gpt3_arithmetic/5d_sub",
    "2Dx": "gpt3_arithmetic/2d_mul",
    "1DC": "gpt3_arithmetic/1d_composite",
}
GPT3_SIZES = {  # Table H.1 column header -> the lake's GPT-3 model (Brown Table D.1 sizes)
    "Small": "gpt3-small",
    "Med": "gpt3-medium",
    "Large": "gpt3-large",
    "XL": "gpt3-xl",
    "2.7B": "gpt3-2.7b",
    "6.7B": "gpt3-6.7b",
    "13B": "gpt3-13b",
    "175B": "gpt3-175b",
}
# Kojima et al. label -> model id. The original GPT-3 API engines get their own ids because
# Kojima's sizes (Table 8: ada 0.3B, babbage 1.3B, curie 6.7B, davinci 175B) differ from the MMLU
# paper's mapping (Ada 2.7B ... Davinci 175B) that hendrycks2021_mmlu.csv uses via gpt3-2.7b etc.
KOJIMA_MODELS = {
    "GPT-3 ada (Original GPT-3)": "gpt3-ada-kojima",
    "GPT-3 babbage (Original GPT-3)": "gpt3-babbage-kojima",
    "GPT-3 curie (Original GPT-3)": "gpt3-curie-kojima",
    "GPT-3 davinci (Original GPT-3)": "gpt3-davinci-kojima",
    "InstructGPT text-ada-001": "instructgpt-text-ada-001",
    "InstructGPT text-babbage-001": "instructgpt-text-babbage-001",
    "InstructGPT text-curie-001": "instructgpt-text-curie-001",
    "InstructGPT text-davinci-001": "instructgpt-text-davinci-001",
    "InstructGPT text-davinci-002": "instructgpt-text-davinci-002",
    "GPT-2 (gpt2-xl)": "gpt2-xl-kojima",
    "GPT-Neo": "gpt-neo-2.7b-kojima",
    "GPT-J": "gpt-j-6b-kojima",
    "T0 (T0pp)": "t0pp-11b-kojima",
    "OPT (opt-13b)": "opt-13b-kojima",
    "PaLM 8B": "palm-8b",
    "PaLM 62B": "palm-62b",
    "PaLM 540B": "palm-540b",
}
KOJIMA_MAPPING_NOTE = (
    "size mapping: Kojima et al. Table 8 (ada 0.3B, babbage 1.3B, curie 6.7B, davinci 175B), "
    "model ids gpt3-*-kojima; the MMLU paper maps the same engines differently (Ada 2.7B, see "
    "hendrycks2021_mmlu.csv)"
)
KOJIMA_TASKS = {"MultiArith": "multiarith", "GSM8K": "gsm8k"}
# DSI: one task per (NQ subset, retrieval method); the models are the T5 backbones.
DSI_METHODS = {
    "DSI Atomic Docid": "dsi_atomic_docid",
    "DSI Naive String Docid": "dsi_naive_string_docid",
    "DSI Semantic String Docid": "dsi_semantic_string_docid",
    "T5 dual encoder": "t5_dual_encoder",
    "BM25": "bm25",
}
T5_SIZES = {
    "Base": "t5-base",
    "Large": "t5-large",
    "XL": "t5-xl",
    "XXL": "t5-11b",
    "220M": "t5-base",
    "250M": "t5-base",
    "800M": "t5-large",
    "3B": "t5-xl",
    "11B": "t5-11b",
}
DSI_METRICS = {"Hits@1": "hits_at_1", "Hits@10": "hits_at_10"}


def _copies(row: dict) -> str:
    return f"read from {row['copy_read']}; second copy: {row['second_copy']}"


def _n_examples(split: str) -> str:
    """'MultiArith.json, 600 samples (...)' -> '600'; blank where the split names no count."""
    for word, following in zip(split.split(), split.split()[1:], strict=False):
        if following.startswith("samples") and word.isdigit():
            return word
    return ""


def _brown(row: dict) -> dict | None:
    size = row["params_as_printed"]
    task = row["task"]
    if size == "175B (test server)":
        return None  # the same 49.4 is already in brown2020_gpt3.csv (Table 3.8)
    if task.startswith("GPT-3 synthetic arithmetic"):
        if size == "175B":
            return None  # one row per 175B point lives in brown2020_gpt3.csv
        task_id, metric, in_figure = ARITHMETIC_TASKS[task.rsplit(" ", 1)[1]], "exact_match", False
        setting = row["setting"]
    else:
        task_id, metric = "wic", "accuracy"
        in_figure = row["setting"] == "one-shot"  # Wei Fig. 2H plots GPT-3 one-shot WiC
        setting = f"{row['setting'].replace('(K=32)', 'K=32')}, dev"
    return {
        "model_id": GPT3_SIZES[size],
        "task_id": task_id,
        "shots": row["shots"],
        "prompting": "standard",
        "setting": setting,
        "metric": metric,
        "value": row["value"],
        "unit": "percent",
        "n_examples": "",
        "citation": BROWN,
        "location": row["location"],
        "in_wei_figure": str(in_figure).lower(),
        "trust": row["trust"],
        "note": f"{row['note']}; {_copies(row)}",
    }


def _kojima(row: dict) -> dict:
    model_id = KOJIMA_MODELS[row["model_label"]]
    prompting = "standard" if row["prompting"] == "standard" else "chain_of_thought"
    setting = row["setting"]
    if row["prompting"].startswith("zero_shot_chain_of_thought"):
        setting = f"{setting} ('Let's think step by step')"
    note = row["note"]
    if model_id.startswith("gpt3-"):
        note = f"{note}; {KOJIMA_MAPPING_NOTE}"
    return {
        "model_id": model_id,
        "task_id": KOJIMA_TASKS[row["task"]],
        "shots": row["shots"],
        "prompting": prompting,
        "setting": setting,
        "metric": "accuracy",
        "value": row["value"],
        "unit": "percent",
        "n_examples": _n_examples(row["split"]),
        "citation": row["citation"],
        "location": row["location"],
        "in_wei_figure": "false",
        "trust": row["trust"],
        "note": f"{note}; {_copies(row)}",
    }


def _tay(row: dict) -> dict:
    method_label = row["setting"].split("method: ", 1)[1]
    subset = row["task"].rsplit(" ", 1)[1].lower()  # NQ10K -> nq10k
    model_id = "bm25" if method_label == "BM25" else T5_SIZES[row["params_as_printed"]]
    return {
        "model_id": model_id,
        "task_id": f"{subset}_retrieval/{DSI_METHODS[method_label]}",
        "shots": "",
        "prompting": "standard",
        "setting": row["setting"],
        "metric": DSI_METRICS[row["metric"]],
        "value": row["value"],
        "unit": "percent",
        "n_examples": "",
        "citation": row["citation"],
        "location": row["location"],
        "in_wei_figure": "false",
        "trust": row["trust"],
        "note": (
            f"{row['model_label']} (printed size {row['params_as_printed']}); {row['note']}; "
            f"prompting 'standard' = no prompt augmentation (a fine-tuned retriever); {_copies(row)}"
        ),
    }


OUTPUTS = {
    "Brown": ("brown2020_gpt3_table_h1.csv", _brown),
    "Kojima": ("kojima2022_zero_shot_cot.csv", _kojima),
    "Tay": ("tay2022_dsi.csv", _tay),
}


def read_shared(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def curated_rows(shared: list[dict]) -> dict[str, list[dict]]:
    """File name -> rows in the results format, in the shared file's order."""
    out: dict[str, list[dict]] = {name: [] for name, _ in OUTPUTS.values()}
    for row in shared:
        paper = row["citation"].split()[0]
        name, transcribe = OUTPUTS[paper]
        curated = transcribe(row)
        if curated is not None:
            out[name].append(curated)
    return out


def write(rows_by_file: dict[str, list[dict]], directory: Path) -> None:
    for name, rows in rows_by_file.items():
        with (directory / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, RESULT_FILE_HEADER)  # \r\n, as the other curated files
            writer.writeheader()
            writer.writerows(rows)


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: python -m sources.curate_more_curves <table1_more_curves.csv>")
    write(curated_rows(read_shared(Path(argv[0]))), LITERATURE_DIR / "results")


if __name__ == "__main__":
    main(sys.argv[1:])
