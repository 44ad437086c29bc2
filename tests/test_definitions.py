"""The code location loads, its graph is what we expect, and loading it stays light."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg

from assets.definitions import defs
from marts.panels import PANELS

EXPECTED_GROUPS = {
    "raw": {"literature_files", "obsscaling_files", "model_registry"},
    "evaluations": {"fresh_evaluation", "fresh_results"},
    "staged": {"staged_lake"},
    "warehouse": {"models", "tasks", "task_metrics", "results", "table1"},
    "emergence": {"emergence"},
    "charts": {f"chart_{p.panel_id}" for p in PANELS} | {"chart_table1", "chart_gallery"},
}


def _graph():
    return defs.resolve_asset_graph()


def test_definitions_load_and_every_job_resolves():
    assert defs.resolve_job_def("lake") is not None
    for job in defs.resolve_all_job_defs():
        assert job.name


def test_assets_are_grouped_by_layer():
    graph = _graph()
    groups: dict[str, set[str]] = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        groups.setdefault(node.group_name, set()).add(key.to_user_string())
    for group, names in EXPECTED_GROUPS.items():
        assert names <= groups.get(group, set()), (group, names - groups.get(group, set()))


def test_layers_depend_in_order():
    graph = _graph()
    parents = lambda name: {k.to_user_string() for k in graph.get(dg.AssetKey(name)).parent_keys}  # noqa: E731
    assert parents("staged_lake") == {"literature_files", "obsscaling_files", "lmeval_files"}
    assert parents("results") == {"staged_lake"}
    assert {"results", "models", "table1", "task_metrics"} <= parents("emergence")
    assert parents("chart_fig2g_mmlu") == {"emergence", "prediction_backtests"}
    assert parents("fresh_results") == {"fresh_evaluation"}
    assert "fresh_results" in parents("emergence")


def test_partitioned_evaluations_stay_out_of_the_main_job():
    selected = {
        k.to_user_string() for k in defs.resolve_job_def("lake").asset_layer.selected_asset_keys
    }
    assert "fresh_evaluation" not in selected and "fresh_results" not in selected
    assert {"model_registry", "staged_lake", "emergence", "chart_gallery"} <= selected


def test_every_asset_has_a_description_and_tables_have_column_schemas():
    graph = _graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description, key
    for table in EXPECTED_GROUPS["warehouse"] | {"emergence"}:
        metadata = graph.get(dg.AssetKey(table)).metadata
        schema = metadata["dagster/column_schema"]
        assert len(schema.columns) >= 5 and all(c.type for c in schema.columns)


def test_blocking_checks_gate_the_warehouse():
    from checks.asset_checks import ASSET_CHECKS

    checks = {spec.key.name: spec for check in ASSET_CHECKS for spec in check.check_specs}
    for name in ("schemas_hold", "references_known", "units_and_ranges", "catalogue_consistent"):
        assert checks[name].blocking, name
    assert not checks["flops_match_6nd"].blocking


def test_loading_definitions_imports_neither_torch_nor_transformers():
    code = "import sys, assets.definitions; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False"]
