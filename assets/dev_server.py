"""`make dev`: run `dagster dev` on the lake's instance and stop it cleanly on Ctrl-C.

Usage: `python -m assets.dev_server dagster dev -h 127.0.0.1 -p 3000` (the Makefile's `dev`).

Why a supervisor: Ctrl-C signals the terminal's whole foreground process group, so the webserver,
the daemon and the code server each got SIGINT at the same moment as `dagster dev`, printed their
own KeyboardInterrupt tracebacks while their parent was still stopping them, and a code server
could outlive it. Here `dagster dev` runs in a session of its own: Ctrl-C (or SIGTERM) reaches it
alone, it stops its services in order, and whatever is still alive in that session after a grace
period (or at a second Ctrl-C) is killed, so nothing is left behind.

Before starting, it points DAGSTER_HOME at $EMERGENCE_DATA/dagster (as `make run` does) and clears
runs that crashed, so their pool slots do not hold up runs launched from the UI.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

from assets.instance import lake_instance
from assets.run_recovery import clear_dead_runs
from sources.paths import PROJECT_ROOT

GRACE_SECONDS = 60  # dagster dev itself waits up to 60 s for each service


def _kill_session(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # everything had already stopped
        os.killpg(pgid, signal.SIGKILL)


def supervise(command: list[str]) -> int:
    """Run `command` in its own session; forward the first Ctrl-C/SIGTERM, kill all at the second."""
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, start_new_session=True)
    stops: list[float] = []

    def stop(_signum, _frame) -> None:
        stops.append(time.monotonic())
        if len(stops) == 1:
            print("\nstopping dagster dev (Ctrl-C again to kill it now)", flush=True)
            process.send_signal(signal.SIGINT)
        else:
            _kill_session(process.pid)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while process.poll() is None:
        time.sleep(0.2)
        if stops and time.monotonic() - stops[0] > GRACE_SECONDS:
            _kill_session(process.pid)
    _kill_session(process.pid)  # a service its parent did not stop must not outlive it
    return 0 if stops else process.returncode


def main(argv: list[str] | None = None) -> int:
    command = list(sys.argv[1:] if argv is None else argv)
    if not command:
        print("usage: python -m assets.dev_server dagster dev [options]", file=sys.stderr)
        return 2
    instance = lake_instance()  # sets DAGSTER_HOME, which the child inherits
    for line in clear_dead_runs(instance):
        print(line, flush=True)
    instance.dispose()
    print(f"Dagster instance: {os.environ['DAGSTER_HOME']}", flush=True)
    return supervise(command)


if __name__ == "__main__":
    sys.exit(main())
