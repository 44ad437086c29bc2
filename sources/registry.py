"""The model registry (sources/models.yaml): which models the lake evaluates itself.

Read into a frame with file/row provenance and validated with the same pandera machinery as the
rest of the lake; a bad entry is reported with its line and field, and nothing is evaluated.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandera.polars as pa
import polars as pl
import yaml

from checks.schemas import FLOPS_RANGE, ID_PATTERN, PARAMS_RANGE, TOKENS_RANGE
from checks.validation import Problem, ValidationError, schema_problems
from sources.literature import display_path
from sources.paths import SOURCES_DIR

REGISTRY_FIELDS = [
    "id",
    "family",
    "weights",
    "revision",
    "params",
    "train_tokens",
    "train_flops",
    "source",
    "trust_remote_code",
]


class RegistrySchema(pa.DataFrameModel):
    id: str = pa.Field(unique=True, str_matches=ID_PATTERN)
    family: str = pa.Field(str_length={"min_value": 1})
    weights: str = pa.Field(str_length={"min_value": 1})
    revision: str = pa.Field(str_length={"min_value": 1})
    params: float = pa.Field(
        nullable=True, in_range={"min_value": PARAMS_RANGE[0], "max_value": PARAMS_RANGE[1]}
    )
    train_tokens: float = pa.Field(
        nullable=True, in_range={"min_value": TOKENS_RANGE[0], "max_value": TOKENS_RANGE[1]}
    )
    train_flops: float = pa.Field(
        nullable=True, in_range={"min_value": FLOPS_RANGE[0], "max_value": FLOPS_RANGE[1]}
    )
    source: str = pa.Field(str_length={"min_value": 4})
    trust_remote_code: bool

    class Config:
        strict = True


def registry_path() -> Path:
    """sources/models.yaml, or EMERGENCE_REGISTRY."""
    override = os.environ.get("EMERGENCE_REGISTRY")
    return Path(override).resolve() if override else SOURCES_DIR / "models.yaml"


def _entry_lines(text: str) -> list[int]:
    """The line of each `- ` list item under `models:`, for messages."""
    return [
        number
        for number, line in enumerate(text.splitlines(), start=1)
        if line.lstrip().startswith("- ")
    ]


def read_registry(path: Path | None = None) -> pl.DataFrame:
    """Validated registry entries, one row each; raise ValidationError naming line and field."""
    path = path or registry_path()
    label = display_path(path)
    try:
        text = path.read_text()
        document = yaml.safe_load(text) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ValidationError(
            [
                Problem(
                    label,
                    None,
                    None,
                    f"an unreadable file ({error})",
                    "YAML with a top-level 'models:' list",
                )
            ]
        ) from error
    entries = document.get("models") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValidationError(
            [
                Problem(
                    label, None, "models", repr(type(entries).__name__), "a list of model entries"
                )
            ]
        )
    lines = _entry_lines(text)
    problems: list[Problem] = []
    rows = []
    for index, entry in enumerate(entries):
        line = lines[index] if index < len(lines) else None
        if not isinstance(entry, dict):
            problems.append(
                Problem(label, line, None, repr(entry), "a mapping with the registry fields")
            )
            continue
        for key in entry:
            if key not in REGISTRY_FIELDS:
                problems.append(
                    Problem(label, line, key, "an undocumented field", f"only {REGISTRY_FIELDS}")
                )
        row = {field: entry.get(field) for field in REGISTRY_FIELDS}
        row["trust_remote_code"] = bool(entry.get("trust_remote_code", False))
        row["revision"] = str(row["revision"]) if row["revision"] is not None else "main"
        for numeric in ("params", "train_tokens", "train_flops"):
            value = row[numeric]
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                problems.append(
                    Problem(label, line, numeric, repr(value), "a number (e.g. 3.0e+11)")
                )
                row[numeric] = None
            elif value is not None:
                row[numeric] = float(value)
        row["source_file"], row["source_row"] = label, line
        rows.append(row)
    frame = pl.DataFrame(
        rows,
        schema={
            **{f: pl.String for f in REGISTRY_FIELDS},
            "params": pl.Float64,
            "train_tokens": pl.Float64,
            "train_flops": pl.Float64,
            "trust_remote_code": pl.Boolean,
            "source_file": pl.String,
            "source_row": pl.Int64,
        },
    )
    problems += schema_problems(frame, RegistrySchema, table="models.yaml")
    if problems:
        raise ValidationError(problems)
    return frame


def registry_model_rows(
    registry: pl.DataFrame, counted_params: dict[str, float] | None = None
) -> pl.DataFrame:
    """Registry entries as `models` rows: FLOPs as published, else 6·N·D flagged estimated."""
    counted_params = counted_params or {}
    frame = registry.with_columns(
        pl.col("params").fill_null(
            pl.col("id").replace_strict(counted_params, default=None, return_dtype=pl.Float64)
        ),
    )
    six_nd = pl.col("params") * pl.col("train_tokens") * 6.0
    return frame.select(
        pl.col("id").alias("model_id"),
        "family",
        pl.col("id").alias("label"),
        "params",
        "train_tokens",
        pl.coalesce("train_flops", six_nd).alias("train_flops"),
        pl.when(pl.col("train_flops").is_not_null())
        .then(pl.lit("published"))
        .when(six_nd.is_not_null())
        .then(pl.lit("estimated_6nd"))
        .otherwise(pl.lit("missing"))
        .alias("flops_basis"),
        pl.lit(None, dtype=pl.Float64).alias("flops_printed_by_wei"),
        "weights",
        "revision",
        pl.lit("registry").alias("origin"),
        "source",
        pl.lit(None, dtype=pl.String).alias("note"),
        "source_file",
        "source_row",
    )
