"""Charts layer: one asset per figure panel (HTML + PNG in data/charts/), Table 1, and the gallery.

Chart assets only read the warehouse (read-only connections). A chart is rendered only when its
spec or data changed (marts/chart_files.py); its hash is also the asset's data version.
"""

import base64

import dagster as dg

from assets.automation import FOLLOWS_UPSTREAM
from assets.resources import Warehouse
from marts.backtests import panel_predictions
from marts.chart_files import inputs_hash, write_chart
from marts.gallery import GalleryEntry, write_gallery
from marts.loss_chart import loss_caption, loss_chart
from marts.panel_chart import PanelSpec, empty_panel_chart, panel_caption, panel_chart
from marts.panels import (
    PANELS,
    Panel,
    panel_emergence,
    panel_left_out_note,
    panel_points,
    panel_random_level,
)
from marts.progress_points import (
    TRAINING_VIEWS,
    TrainingView,
    loss_points,
    tokens_per_step_by_weights,
    training_points,
)
from marts.table1_chart import table1_caption, table1_chart
from marts.table1_counts import table1_counts
from marts.training_chart import training_caption, training_chart
from sources.paths import charts_dir
from warehouse.store import read_frame

GROUP = "charts"


def _file_metadata(files: dict) -> dict:
    encoded = base64.b64encode(files["preview"].read_bytes()).decode()
    return {
        "html": dg.MetadataValue.path(str(files["html"])),
        "png": dg.MetadataValue.path(str(files["png"])),
        "preview": dg.MetadataValue.md(f"![{files['png'].stem}](data:image/png;base64,{encoded})"),
        "rendered": files["rendered"],
        "changed": files["changed"],
    }


def _result(files: dict, **metadata) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        metadata={**_file_metadata(files), **metadata}, data_version=dg.DataVersion(files["hash"])
    )


def _spec(panel: Panel, extra_notes: tuple[str, ...] = ()) -> PanelSpec:
    return PanelSpec(
        panel.panel_id,
        panel.title,
        panel.subtitle,
        panel.y_title,
        (*panel.notes, *extra_notes),
        gap_notes=panel.gap_notes,
    )


def render_panel(con, panel: Panel) -> tuple[dict, bool, str]:
    """Draw one panel from the warehouse; a panel without data says why instead of an empty axis.

    Returns the files, whether the panel has data, and its caption (computed from the data)."""
    left_out = panel_left_out_note(con, panel)
    spec = _spec(panel, (left_out,) if left_out else ())
    points = panel_points(con, panel)
    if points.height == 0:
        caption = (
            panel.no_data_reason or "No results in the warehouse for this task, setting and metric."
        )
        files = write_chart(
            lambda: empty_panel_chart(spec, caption),
            charts_dir(),
            panel.panel_id,
            key=inputs_hash("empty", spec, caption),
        )
        return files, False, caption
    emergence = panel_emergence(con, panel, points)
    random_level = panel_random_level(con, panel)
    predicted = panel_predictions(con, panel, points)
    files = write_chart(
        lambda: panel_chart(points, emergence, spec, random_level, predicted),
        charts_dir(),
        panel.panel_id,
        key=inputs_hash(points, emergence, spec, random_level, predicted),
    )
    caption = panel_caption(points, emergence)
    return files, True, f"{caption} {left_out}" if left_out else caption


def _panel_asset(panel: Panel) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"chart_{panel.panel_id}",
        group_name=GROUP,
        deps=["emergence", "prediction_backtests"],
        automation_condition=FOLLOWS_UPSTREAM,
        description=f"{panel.title}: {panel.subtitle}. Writes data/charts/{panel.panel_id}.html and .png.",
        kinds={"altair"},
        code_version="1",
    )
    def _chart(warehouse: Warehouse) -> dg.MaterializeResult:
        with warehouse.get_connection(read_only=True) as con:
            files, has_data, caption = render_panel(con, panel)
        return _result(files, has_data=has_data, caption=caption)

    return _chart


PANEL_ASSETS = [_panel_asset(panel) for panel in PANELS]


@dg.asset(
    group_name=GROUP,
    deps=["emergence"],
    automation_condition=FOLLOWS_UPSTREAM,
    description="Wei et al. Table 1: the reported emergent scale of each of the 23 abilities, with the lake's recomputed scale beside it where it holds the curve.",
    kinds={"altair"},
    code_version="1",
)
def chart_table1(warehouse: Warehouse) -> dg.MaterializeResult:
    with warehouse.get_connection(read_only=True) as con:
        table1 = read_frame(
            con,
            """
            SELECT t.row_order, t.ability, t.family, t.is_numeric, t.reported_flops, t.reported_params,
                   c.computed_flops, c.computed_params, c.agrees, t.prompting_kind
            FROM table1 t LEFT JOIN table1_comparison c USING (row_order)
            ORDER BY t.row_order
            """,
        )
    files = write_chart(
        lambda: table1_chart(table1), charts_dir(), "table1", key=inputs_hash(table1)
    )
    return _result(files, caption=table1_caption(table1))


def _no_data_chart(stem: str, title: str, subtitle: str, reason: str) -> dict:
    spec = PanelSpec(stem, title, subtitle, "")
    return write_chart(
        lambda: empty_panel_chart(spec, reason),
        charts_dir(),
        stem,
        key=inputs_hash("empty", spec, reason),
    )


def _training_asset(view: TrainingView) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"chart_{view.view_id}",
        group_name=GROUP,
        deps=["emergence"],
        automation_condition=FOLLOWS_UPSTREAM,
        description=(
            f"{view.title}: per task, {view.family} {view.shots}-shot lm-eval accuracy against the "
            "training FLOPs each checkpoint has seen, one line per size (and the lake's own "
            f"evaluations at step<N> revisions). Writes data/charts/{view.view_id}.html and .png."
        ),
        kinds={"altair"},
        code_version="1",
    )
    def _chart(warehouse: Warehouse) -> dg.MaterializeResult:
        with warehouse.get_connection(read_only=True) as con:
            points = training_points(con, view, tokens_per_step_by_weights())
        caption = training_caption(points)
        if points.height == 0:
            files = _no_data_chart(
                view.view_id, view.title, f"{view.family}, {view.shots}-shot", caption
            )
            return _result(files, has_data=False, caption=caption)
        files = write_chart(
            lambda: training_chart(points, view),
            charts_dir(),
            view.view_id,
            key=inputs_hash(points, view),
        )
        return _result(files, has_data=True, caption=caption)

    return _chart


TRAINING_ASSETS = [_training_asset(view) for view in TRAINING_VIEWS]

LOSS_STEM = "loss_lambada_perplexity"
LOSS_TITLE = "Accuracy against pre-training loss (LAMBADA perplexity)"


@dg.asset(
    name=f"chart_{LOSS_STEM}",
    group_name=GROUP,
    deps=["emergence"],
    automation_condition=FOLLOWS_UPSTREAM,
    description=(
        "Per task, 0-shot accuracy of every model and checkpoint that has a LAMBADA perplexity "
        "(Pythia, OPT, BLOOM lm-eval results) against that perplexity, axis reversed: emergence "
        f"as a function of pre-training loss (Du et al. 2024). Writes data/charts/{LOSS_STEM}.html and .png."
    ),
    kinds={"altair"},
    code_version="1",
)
def chart_loss_lambada_perplexity(warehouse: Warehouse) -> dg.MaterializeResult:
    with warehouse.get_connection(read_only=True) as con:
        points = loss_points(con)
    caption = loss_caption(points)
    if points.height == 0:
        files = _no_data_chart(LOSS_STEM, LOSS_TITLE, "LAMBADA perplexity axis", caption)
        return _result(files, has_data=False, caption=caption)
    files = write_chart(
        lambda: loss_chart(points), charts_dir(), LOSS_STEM, key=inputs_hash(points)
    )
    return _result(files, has_data=True, caption=caption)


NEW_AXIS_CHARTS = [
    *((a, v.view_id, v.title) for a, v in zip(TRAINING_ASSETS, TRAINING_VIEWS, strict=True)),
    (chart_loss_lambada_perplexity, LOSS_STEM, LOSS_TITLE),
]


@dg.asset(
    group_name=GROUP,
    deps=[a.key for a in PANEL_ASSETS] + [a.key for a, _, _ in NEW_AXIS_CHARTS] + ["chart_table1"],
    automation_condition=FOLLOWS_UPSTREAM,
    description="data/charts/index.html: every panel's PNG with its caption, linking the interactive HTML.",
    kinds={"html"},
    code_version="1",
)
def chart_gallery(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    directory = charts_dir()
    with warehouse.get_connection(read_only=True) as con:
        counts = table1_counts(con)
    table1_caption_text, _ = _last_metadata(context, chart_table1.key)
    entries = [
        GalleryEntry(
            "table1",
            "Table 1 · Emergent abilities and their scale",
            table1_caption_text or "Reported (Wei et al. 2022) vs recomputed by the lake.",
            True,
        )
    ]
    for panel, panel_asset in zip(PANELS, PANEL_ASSETS, strict=True):
        caption, has_data = _last_metadata(context, panel_asset.key)
        entries.append(
            GalleryEntry(panel.panel_id, panel.title, caption or panel.subtitle, bool(has_data))
        )
    for chart_asset, stem, title in NEW_AXIS_CHARTS:
        caption, has_data = _last_metadata(context, chart_asset.key)
        entries.append(GalleryEntry(stem, title, caption or title, bool(has_data)))
    index = write_gallery(entries, directory, summary=counts.sentence())
    return dg.MaterializeResult(
        metadata={
            "index": dg.MetadataValue.path(str(index)),
            "panels": len(entries),
            "table1_recomputed": counts.recomputed,
            "table1_rows": counts.total,
        }
    )


def _last_metadata(context: dg.AssetExecutionContext, key: dg.AssetKey) -> tuple[str | None, bool]:
    """The caption and has_data the chart's own asset recorded when it last drew (no second
    query of the warehouse)."""
    event = context.instance.get_latest_materialization_event(key)
    metadata = event.asset_materialization.metadata if event else {}
    caption, has_data = metadata.get("caption"), metadata.get("has_data")
    return (
        caption.value if caption is not None else None,
        bool(has_data.value) if has_data is not None else False,
    )


CHART_ASSETS = [
    *PANEL_ASSETS,
    *TRAINING_ASSETS,
    chart_loss_lambada_perplexity,
    chart_table1,
    chart_gallery,
]
