"""`make dev`: the UI serves the code location as `emergence_lake`, on the lake's instance under
EMERGENCE_DATA, and Ctrl-C stops it without tracebacks and without leaving a process behind."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sources.paths import PROJECT_ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _graphql(url: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process tree from /proc")
def test_make_dev_names_the_location_and_stops_cleanly_on_ctrl_c(tmp_path):
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    recipe = re.search(r"^dev:.*\n\t(.*)$", makefile, flags=re.M).group(1)
    assert recipe.startswith("$(BIN)/python -m assets.dev_server $(BIN)/dagster dev")
    port = _free_port()
    data = tmp_path / "data"
    env = {**os.environ, "EMERGENCE_DATA": str(data), "PYTHONPATH": str(PROJECT_ROOT)}
    env.pop("DAGSTER_HOME", None)  # the default: the instance under EMERGENCE_DATA
    dagster = Path(sys.executable).with_name("dagster")
    command = [sys.executable, "-m", "assets.dev_server", str(dagster), "dev"]
    supervisor = subprocess.Popen(
        [*command, "-h", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # this group stands for the terminal's foreground group
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        names = None
        while time.monotonic() < deadline and names is None:
            assert supervisor.poll() is None, supervisor.stdout.read()
            try:
                answer = _graphql(
                    url,
                    "{ workspaceOrError { ... on Workspace { locationEntries { name "
                    "locationOrLoadError { __typename } } } } }",
                )
                entries = answer["data"]["workspaceOrError"]["locationEntries"]
                if entries and entries[0]["locationOrLoadError"]:
                    names = [e["name"] for e in entries]
            except OSError:
                pass
            time.sleep(1)
        assert names == ["emergence_lake"]
        assert (data / "dagster" / "dagster.yaml").resolve() == PROJECT_ROOT / "dagster.yaml"
        assert (
            data / "dagster" / "history" / "runs.db"
        ).exists()  # the instance: under EMERGENCE_DATA
        started = _descendants(supervisor.pid)
        assert len(started) >= 3  # dagster dev, its webserver, its daemon (and code server)

        os.killpg(supervisor.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        output, _ = supervisor.communicate(timeout=120)
    finally:  # on a failure above, leave nothing running either
        if supervisor.poll() is None:
            stray = _descendants(supervisor.pid)
            os.killpg(supervisor.pid, signal.SIGKILL)
            for pid in stray:
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
    assert supervisor.returncode == 0, output
    assert "Traceback" not in output and "KeyboardInterrupt\n" not in output, output
    assert "Dagster services shut down" in output
    time.sleep(1)
    left = [pid for pid in started if _alive(pid)]
    assert not left, f"processes left behind: {left}"
