"""The settings that pick a scale-out variant, without servers: EMERGENCE_DAGSTER_YAML and the
DuckLake DDL. Failure paths say what was set and what was expected."""

from __future__ import annotations

import duckdb
import pytest

from assets.instance import CONFIG, prepare_dagster_home
from sources.paths import PROJECT_ROOT, dagster_yaml, duckdb_path
from warehouse.ducklake import ducklake_ddl
from warehouse.store import SCHEMA_SQL, VIEWS_SQL

pytestmark = pytest.mark.scaleout


def test_the_variant_is_linked_into_dagster_home_and_back(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EMERGENCE_DAGSTER_YAML", "deploy/postgres/dagster.yaml")
    home = prepare_dagster_home()
    assert (home / "dagster.yaml").resolve() == PROJECT_ROOT / "deploy/postgres/dagster.yaml"
    monkeypatch.delenv("EMERGENCE_DAGSTER_YAML")
    prepare_dagster_home()
    assert (home / "dagster.yaml").resolve() == CONFIG.resolve()


def test_a_missing_variant_names_the_setting(monkeypatch):
    monkeypatch.setenv("EMERGENCE_DAGSTER_YAML", "deploy/nope/dagster.yaml")
    with pytest.raises(FileNotFoundError, match=r"EMERGENCE_DAGSTER_YAML=deploy/nope/dagster.yaml"):
        dagster_yaml()


def test_a_ducklake_location_is_kept_as_written(monkeypatch):
    location = "ducklake:postgres:dbname=lake host=127.0.0.1 user=lake"
    monkeypatch.setenv("EMERGENCE_DUCKDB", location)
    assert str(duckdb_path()) == location


def test_ducklake_ddl_has_no_keys_and_still_builds_every_table_and_view():
    schema, views = ducklake_ddl(SCHEMA_SQL.read_text(), VIEWS_SQL.read_text())
    assert "PRIMARY KEY" not in schema and "CREATE OR REPLACE" not in views
    con = duckdb.connect()
    con.execute(schema)
    con.execute(views)
    con.execute(views)  # a second writer's session: nothing to do, no error
    keyed = duckdb.connect()
    keyed.execute(SCHEMA_SQL.read_text())
    keyed.execute(VIEWS_SQL.read_text())
    names = "SELECT table_name, column_name FROM information_schema.columns ORDER BY ALL"
    assert con.execute(names).fetchall() == keyed.execute(names).fetchall()
