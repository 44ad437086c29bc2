"""Charts layer: one asset per figure panel (HTML + PNG in data/charts/), Table 1, and the gallery."""

import base64

import dagster as dg

from assets.automation import FOLLOWS_UPSTREAM
from assets.resources import Warehouse
from marts.charts import PanelSpec, empty_panel_chart, panel_chart, table1_chart, write_chart
from marts.gallery import GalleryEntry, write_gallery
from marts.panels import PANELS, Panel, panel_emergence, panel_points, panel_random_level
from sources.paths import charts_dir
from warehouse.store import read_frame

GROUP = "charts"


def _file_metadata(files: dict) -> dict:
    encoded = base64.b64encode(files["preview"].read_bytes()).decode()
    return {
        "html": dg.MetadataValue.path(str(files["html"])),
        "png": dg.MetadataValue.path(str(files["png"])),
        "preview": dg.MetadataValue.md(f"![{files['png'].stem}](data:image/png;base64,{encoded})"),
        "changed": files["changed"],
    }


def _spec(panel: Panel) -> PanelSpec:
    return PanelSpec(panel.panel_id, panel.title, panel.subtitle, panel.y_title, panel.notes)


def render_panel(con, panel: Panel) -> tuple[dict, bool]:
    """Draw one panel from the warehouse; a panel without data says why instead of an empty axis."""
    if panel.task_id is None:
        chart, has_data = empty_panel_chart(_spec(panel), panel.no_data_reason), False
    else:
        points = panel_points(con, panel)
        if points.height == 0:
            chart, has_data = (
                empty_panel_chart(
                    _spec(panel), "No results in the warehouse for this task, setting and metric."
                ),
                False,
            )
        else:
            chart = panel_chart(
                points,
                panel_emergence(con, panel, points),
                _spec(panel),
                panel_random_level(con, panel),
            )
            has_data = True
    return write_chart(chart, charts_dir(), panel.panel_id), has_data


def _panel_asset(panel: Panel) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"chart_{panel.panel_id}",
        group_name=GROUP,
        deps=["emergence"],
        automation_condition=FOLLOWS_UPSTREAM,
        description=f"{panel.title}: {panel.subtitle}. Writes data/charts/{panel.panel_id}.html and .png.",
        kinds={"altair"},
        code_version="1",
    )
    def _chart(warehouse: Warehouse) -> dg.MaterializeResult:
        with warehouse.get_connection(read_only=True) as con:
            files, has_data = render_panel(con, panel)
        return dg.MaterializeResult(metadata={**_file_metadata(files), "has_data": has_data})

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
    files = write_chart(table1_chart(table1), charts_dir(), "table1")
    return dg.MaterializeResult(metadata=_file_metadata(files))


@dg.asset(
    group_name=GROUP,
    deps=[a.key for a in PANEL_ASSETS] + ["chart_table1"],
    automation_condition=FOLLOWS_UPSTREAM,
    description="data/charts/index.html: every panel's PNG with its caption, linking the interactive HTML.",
    kinds={"html"},
    code_version="1",
)
def chart_gallery(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    directory = charts_dir()
    entries = [
        GalleryEntry(
            "table1",
            "Table 1 · Emergent abilities and their scale",
            "Reported (Wei et al. 2022) vs recomputed by the lake.",
            True,
        )
    ]
    for panel, panel_asset in zip(PANELS, PANEL_ASSETS, strict=True):
        entries.append(
            GalleryEntry(
                panel.panel_id, panel.title, panel.subtitle, _had_data(context, panel_asset.key)
            )
        )
    index = write_gallery(entries, directory)
    return dg.MaterializeResult(
        metadata={"index": dg.MetadataValue.path(str(index)), "panels": len(entries)}
    )


def _had_data(context: dg.AssetExecutionContext, key: dg.AssetKey) -> bool:
    """What the panel's own asset found when it last drew (no second query of the warehouse)."""
    event = context.instance.get_latest_materialization_event(key)
    has_data = event.asset_materialization.metadata.get("has_data") if event else None
    return bool(has_data.value) if has_data is not None else False


CHART_ASSETS = [*PANEL_ASSETS, chart_table1, chart_gallery]
