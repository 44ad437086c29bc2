"""The new chart assets are in the code location: one per chart, in the charts group, each with
a description, following `emergence`, and all feeding the gallery."""

from __future__ import annotations

import dagster as dg

from assets.definitions import defs
from marts.progress_points import TRAINING_VIEWS

NEW_CHARTS = {f"chart_{v.view_id}" for v in TRAINING_VIEWS} | {
    "chart_loss_lambada_perplexity",
    "chart_fig2g_mmlu_open_models",
    "chart_fig3a_gsm8k_chain_of_thought_open_models",
}


def test_each_new_chart_is_an_asset_with_a_description_feeding_the_gallery() -> None:
    graph = defs.resolve_asset_graph()
    gallery_parents = {
        k.to_user_string() for k in graph.get(dg.AssetKey("chart_gallery")).parent_keys
    }
    for name in NEW_CHARTS:
        node = graph.get(dg.AssetKey(name))
        assert node.group_name == "charts", name
        assert node.description and len(node.description) > 40, name
        # Panels also follow prediction_backtests (their dashed extrapolations).
        parents = {k.to_user_string() for k in node.parent_keys}
        assert "emergence" in parents and parents <= {"emergence", "prediction_backtests"}, name
        assert name in gallery_parents, name
