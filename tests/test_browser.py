"""A person's view: `dagster dev` serves the code location and the asset graph names the assets.

Starts `dagster dev` on a free 127.0.0.1 port with an isolated DAGSTER_HOME, opens the asset
catalog and the graph of the lake in headless Chromium, and waits for the assets to appear.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sources.paths import PROJECT_ROOT

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
EXPECTED = [
    "literature_files",
    "staged_lake",
    "results",
    "emergence",
    "chart_fig2g_mmlu",
    "chart_gallery",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout_s} s")


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory):
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "EMERGENCE_DATA": str(home / "data")}
    dagster = Path(sys.executable).with_name("dagster")
    process = subprocess.Popen(
        [str(dagster), "dev", "-h", "127.0.0.1", "-p", str(port), "-m", "assets.definitions"],
        cwd=home,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/server_info", timeout_s=120)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("needs Debian's chromium and chromium-driver (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1600,1200",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _wait_for_text(driver, names: list[str], timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    text = ""
    while time.monotonic() < deadline:
        text = driver.execute_script("return document.body ? document.body.innerText : ''")
        if all(name in text for name in names):
            return text
        time.sleep(1)
    missing = [n for n in names if n not in text]
    raise AssertionError(f"not on the page after {timeout_s} s: {missing}")


def test_make_dev_binds_the_ui_to_loopback_and_it_answers(dagster_ui):
    dev_recipe = (PROJECT_ROOT / "Makefile").read_text().split("\ndev:", 1)[1].split("\n\n", 1)[0]
    assert "dagster dev -h 127.0.0.1" in dev_recipe
    with urllib.request.urlopen(f"{dagster_ui}/server_info", timeout=10) as response:
        assert "dagster_webserver_version" in json.loads(response.read())


def test_asset_catalog_lists_the_lake(dagster_ui, browser):
    browser.get(f"{dagster_ui}/assets")
    _wait_for_text(
        browser, ["chart_fig2g_mmlu", "emergence"], timeout_s=90
    )  # a virtualised list: the first rows


@pytest.mark.parametrize("name", EXPECTED)
def test_each_asset_page_names_the_asset(dagster_ui, browser, name):
    browser.get(f"{dagster_ui}/assets/{name}")
    _wait_for_text(browser, [name], timeout_s=60)


def test_asset_graph_shows_layers_and_assets(dagster_ui, browser, tmp_path):
    browser.get(f"{dagster_ui}/asset-groups")
    # the global graph shows each layer as a (collapsed) group; asset pages are checked above
    _wait_for_text(
        browser, ["raw", "staged", "warehouse", "emergence", "charts", "evaluations"], timeout_s=60
    )
    browser.save_screenshot(str(tmp_path / "asset_graph.png"))


# ---------------------------------------------------------------------------------------------
# Chart pages in a real browser: hostile input text stays text; the page fills the window.
# ---------------------------------------------------------------------------------------------

HOSTILE_CITATION = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"


@pytest.fixture(scope="module")
def hostile_charts(tmp_path_factory):
    import polars as pl

    from marts.chart_files import write_chart
    from marts.gallery import GalleryEntry, write_gallery
    from marts.panel_chart import PanelSpec, panel_chart

    points = pl.DataFrame(
        {
            "series": ["PaLM"] * 3,
            "family": ["PaLM"] * 3,
            "model_id": ["palm-8b", "palm-62b", "palm-540b"],
            "label": ["PaLM 8B", "PaLM 62B", "PaLM 540B <img src=x onerror=alert(3)>"],
            "train_flops": [4.29e22, 2.957e23, 2.5272e24],
            "params": [8.63e9, 62.5e9, 540.35e9],
            "value": [47.3, 48.6, 63.2],
            "unit": ["percent"] * 3,
            "citation": [HOSTILE_CITATION] * 3,
            "location": ["Table 40"] * 3,
            "setting": ["1-shot"] * 3,
        }
    )
    spec = PanelSpec("fig2h_wic", "Figure 2H <b>WiC</b>", "WiC, 1-shot", "Accuracy (%)")
    directory = tmp_path_factory.mktemp("charts")
    write_chart(panel_chart(points, pl.DataFrame(), spec, 50.0), directory, "fig2h_wic")
    entry = GalleryEntry("fig2h_wic", "Figure 2H " + HOSTILE_CITATION, HOSTILE_CITATION, True)
    write_gallery([entry], directory)
    return directory


def _no_alert(driver) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        text = driver.switch_to.alert.text
    except NoAlertPresentException:
        return
    raise AssertionError(f"an alert opened: {text!r}")


def test_hostile_citation_renders_as_text_in_the_chart_page(browser, hostile_charts):
    browser.get((hostile_charts / "fig2h_wic.html").as_uri())
    _wait_for_text(browser, ["All charts"], timeout_s=30)
    deadline = time.monotonic() + 30
    svg_text = ""
    while time.monotonic() < deadline and HOSTILE_CITATION not in svg_text:
        svg_text = browser.execute_script(
            "const s = document.querySelector('#chart svg'); return s ? s.textContent : '';"
        )
        time.sleep(0.5)
    assert HOSTILE_CITATION in svg_text, "the citation is drawn as text in the notes"
    _no_alert(browser)
    # a tooltip shows the hostile label and citation as text, not as HTML
    from selenium.webdriver.common.action_chains import ActionChains

    points = browser.find_elements("css selector", "#chart g.mark-symbol.role-mark path")
    ActionChains(browser).move_to_element(points[-1]).perform()
    tooltip = ""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and HOSTILE_CITATION not in tooltip:
        tooltip = browser.execute_script(
            "const t = document.getElementById('vg-tooltip-element'); return t ? t.innerText : '';"
        )
        time.sleep(0.3)
    assert HOSTILE_CITATION in tooltip and "<img src=x onerror=alert(3)>" in tooltip, tooltip
    _no_alert(browser)
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0
    assert browser.execute_script("return document.scripts.length") == 2
    assert browser.title == "Figure 2H <b>WiC</b>"
    # the chart fills the window's width and links back to the gallery
    box, window = browser.execute_script(
        "const r = document.querySelector('#chart svg').getBoundingClientRect();"
        " return [[r.width, r.height, r.bottom], [window.innerWidth, window.innerHeight]];"
    )
    assert box[0] > 0.9 * window[0] and box[1] > 0.8 * window[1], (box, window)
    assert box[2] <= window[1], "the chart fits the window: no scrolling"
    assert browser.execute_script(
        "return document.querySelector('nav a').getAttribute('href')"
    ) == ("index.html")


def test_hostile_caption_renders_as_text_in_the_gallery(browser, hostile_charts):
    browser.get((hostile_charts / "index.html").as_uri())
    text = _wait_for_text(browser, ["charts have data"], timeout_s=30)
    assert HOSTILE_CITATION in text
    _no_alert(browser)
    images = browser.execute_script(
        "return Array.from(document.images).map(i => i.getAttribute('src'))"
    )
    assert images == ["fig2h_wic.png"]
    assert browser.execute_script("return document.scripts.length") == 0


def test_column_descriptions_show_their_placeholders(dagster_ui, browser):
    # warehouse/schema.sql documents results.location as "... 'run <run_id> config <hash>' ...";
    # unescaped, the UI's Markdown would swallow <run_id> and <hash> as unknown HTML tags.
    browser.get(f"{dagster_ui}/assets/results")
    _wait_for_text(browser, ["run <run_id> config <hash>"], timeout_s=90)


def test_clicking_a_legend_entry_highlights_its_series(browser, tmp_path):
    from marts.chart_files import write_chart
    from marts.panel_chart import panel_chart
    from tests.marts.test_charts import WIC, wic_emergence, wic_points

    write_chart(panel_chart(wic_points(), wic_emergence(), WIC, 50.0), tmp_path, "fig2h")
    browser.get((tmp_path / "fig2h.html").as_uri())
    opacities = (
        "return Array.from(document.querySelectorAll('#chart g.mark-line.role-mark path'))"
        ".map(p => getComputedStyle(p).opacity)"
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not browser.execute_script(opacities):
        time.sleep(0.5)
    assert browser.execute_script(opacities) == ["1", "1"]
    labels = browser.find_elements("css selector", "#chart g.role-legend-label text")
    assert [label.text for label in labels] == ["GPT-3", "PaLM"]
    labels[0].click()
    time.sleep(1)
    # the GPT-3 line stays, PaLM's fades (lines are drawn in series order: GPT-3, PaLM)
    assert browser.execute_script(opacities) == ["1", "0.12"]
