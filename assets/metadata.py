"""Column-schema metadata for the UI, built from warehouse/schema.sql's comments."""

from __future__ import annotations

import dagster as dg

from warehouse.catalog import table_columns


def column_schema(table: str) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=c.name, type=c.type, description=c.description or None)
            for c in table_columns()[table]
        ]
    )


def table_metadata(table: str) -> dict:
    return {"dagster/column_schema": column_schema(table), "dagster/table_name": table}
