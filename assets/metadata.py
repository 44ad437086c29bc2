"""Column-schema metadata for the UI, built from warehouse/schema.sql's comments."""

from __future__ import annotations

import html

import dagster as dg

from warehouse.catalog import table_columns


def ui_text(description: str) -> str:
    """The Dagster UI renders descriptions as Markdown with HTML, where `<run_id>` would vanish as
    an unknown tag; escaped, it shows as written."""
    return html.escape(description, quote=False)


def column_schema(table: str) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=c.name,
                type=c.type,
                description=ui_text(c.description) if c.description else None,
            )
            for c in table_columns()[table]
        ]
    )


def table_metadata(table: str) -> dict:
    return {"dagster/column_schema": column_schema(table), "dagster/table_name": table}
