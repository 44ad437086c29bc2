"""The lake at scale: result rows -> wall seconds, peak RSS and seconds per stage.

For each size (`--sizes 10k,100k,1M`, the default), writes the curated folder plus generated
families, models and results (benchmarks/synthetic_lake.py, deterministic for a seed), then runs
the real `make run` command (`python -m assets.run_lake`: the `lake` job) in a child process with
a fresh EMERGENCE_DATA, EMERGENCE_LITERATURE pointing at the generated folder and a fresh
DAGSTER_HOME (the project's dagster.yaml with its paths moved under the benchmark folder). The
child's wall time and peak RSS come from the OS (wait4); the time of each stage from the run's
STEP_START / STEP_SUCCESS events in that instance's event log:

    ingest     literature_files, obsscaling_files, lmeval_files (reading and typing the files)
    validate   staged_lake and its asset checks (schemas, rules; loading the staged lake)
    warehouse  warehouse_tables, lmeval_examples (the DuckDB writes)
    emergence  emergence, prediction_backtests, forecasts, rescored_metrics, verdicts
    charts     every chart asset, the masking charts and the gallery

`core` = ingest + validate + warehouse + emergence: issue 8's budget is 30 s and 2 GB at 1M rows.
Then, on the embedded data (no EMERGENCE_LITERATURE), in one fresh data folder: a cold run, a
warm run (the same command again, nothing changed: the runner finds the lake unchanged and stops,
assets/run_fingerprint.py) and a forced warm run (EMERGENCE_FORCE_RUN=1: every step runs, as after
a change, and charts whose inputs did not change are not rendered again). `--no-warm` skips these.

    EMERGENCE_MIRROR=../shared/mirror .venv/bin/python benchmarks/bench_lake.py --sizes 10k,100k,1M

Generated inputs and run folders go under `--work` (default data/bench/lake, git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.synthetic_lake import write_synthetic_literature  # noqa: E402
from sources.paths import PROJECT_ROOT  # noqa: E402

STAGES = ["ingest", "validate", "warehouse", "emergence", "charts"]
CORE = ["ingest", "validate", "warehouse", "emergence"]
STEPS_SHOWN = 8  # the slowest steps of each run, by name


def parse_size(text: str) -> int:
    multipliers = {"k": 1_000, "m": 1_000_000}
    text = text.strip().lower()
    if text[-1:] in multipliers:
        return int(float(text[:-1]) * multipliers[text[-1]])
    return int(text)


def stage_of(step_key: str) -> str:
    if step_key.startswith(("literature_files", "obsscaling_files", "lmeval_files")):
        return "ingest"
    if step_key.startswith("staged_lake"):
        return "validate"
    if step_key.startswith(("warehouse_tables", "lmeval_examples")):
        return "warehouse"
    if step_key.startswith(
        ("emergence", "prediction_backtests", "forecasts", "rescored_metrics", "verdicts")
    ):
        return "emergence"
    if step_key.startswith(("chart", "masking_charts")):
        return "charts"
    return "other"


def fresh_dagster_home(home: Path) -> None:
    """The project's dagster.yaml, every relative base_dir moved under `home`."""
    config = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())

    def rebase(node):
        if isinstance(node, dict):
            return {
                k: str(home / v) if k == "base_dir" and not os.path.isabs(v) else rebase(v)
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [rebase(v) for v in node]
        return node

    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(rebase(config)))


def run_lake(home: Path, data: Path, literature: Path | None, *, force: bool = False) -> dict:
    """One `python -m assets.run_lake` in a child process: wall seconds, peak RSS, exit code."""
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "DAGSTER_HOME": str(home),
        "EMERGENCE_DATA": str(data),
    }
    for name in ("EMERGENCE_DUCKDB", "EMERGENCE_LITERATURE", "EMERGENCE_FORCE_RUN"):
        env.pop(name, None)
    if force:
        env["EMERGENCE_FORCE_RUN"] = "1"
    if literature is not None:
        env["EMERGENCE_LITERATURE"] = str(literature)
    log = (home / "run.log").open("a")
    load = os.getloadavg()[0]
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "assets.run_lake"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    samples: list[tuple[float, float, float, float]] = []
    peak = [0.0]  # the child's VmHWM: its own peak RSS, reset at exec (wait4's ru_maxrss is not:
    # it starts from this process's RSS at fork, so a small run showed this script's size)
    sampler = threading.Thread(target=_sample_rss, args=(child.pid, samples, peak), daemon=True)
    sampler.start()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    sampler.join()
    log.close()
    return {
        "rss_samples": samples,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "load_before": load,
        "peak_rss_mb": peak[0],
        "exit_code": os.waitstatus_to_exitcode(status),
    }


def _sample_rss(
    pid: int,
    samples: list[tuple[float, float, float, float]],
    peak: list[float],
    every_s: float = 0.1,
) -> None:
    """(unix time, RSS MB, CPU seconds so far, anonymous RSS MB) of the child until it exits.

    RSS counts the pages of memory-mapped files (the staged lake's Arrow files) as well as the
    process's own allocations; the anonymous part is the latter alone.

    Attributed to the stage running at each instant (steps run one at a time), this gives the
    peak memory and the CPU seconds of each stage; CPU seconds barely change when other work
    shares the machine, wall seconds do.
    """
    tick = os.sysconf("SC_CLK_TCK")
    status, stat = Path(f"/proc/{pid}/status"), Path(f"/proc/{pid}/stat")
    while True:
        try:
            text, fields = status.read_text(), stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            return
        if "State:\tZ" in text:
            return
        cpu = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        values = {
            line.split(":")[0]: int(line.split()[1]) / 1024
            for line in text.splitlines()
            if line.startswith(("VmRSS:", "RssAnon:", "VmHWM:"))
        }
        if "VmRSS" in values:
            samples.append((time.time(), values["VmRSS"], cpu, values.get("RssAnon", 0.0)))
            peak[0] = max(peak[0], values.get("VmHWM", 0.0))
        time.sleep(every_s)


def step_times(home: Path) -> list[dict]:
    """Per run (oldest first): seconds per stage, from the step events in the event log."""
    import dagster as dg

    os.environ["DAGSTER_HOME"] = str(home)
    runs = []
    with dg.DagsterInstance.get() as instance:
        for run in reversed(instance.get_runs()):
            starts: dict[str, float] = {}
            stages = dict.fromkeys([*STAGES, "other"], 0.0)
            spans: list[tuple[str, float, float, str]] = []
            steps: dict[str, float] = {}
            failed = []
            for record in instance.all_logs(run.run_id):
                event = record.dagster_event
                if event is None or record.step_key is None:
                    continue
                if event.event_type_value == "STEP_START":
                    starts[record.step_key] = record.timestamp
                elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
                    seconds = record.timestamp - starts.get(record.step_key, record.timestamp)
                    stages[stage_of(record.step_key)] += seconds
                    steps[record.step_key] = seconds
                    spans.append(
                        (
                            stage_of(record.step_key),
                            starts[record.step_key],
                            record.timestamp,
                            record.step_key,
                        )
                    )
                    if event.event_type_value == "STEP_FAILURE":
                        failed.append(record.step_key)
            runs.append(
                {
                    "run_id": run.run_id,
                    "stages_s": stages,
                    "steps_s": steps,
                    "failed_steps": failed,
                    "spans": spans,
                }
            )
    return runs


def attach_stage_peaks(measured: dict) -> dict:
    """Peak RSS (MB) and CPU seconds sampled while each stage's steps ran."""
    samples = measured.pop("rss_samples")
    peaks = dict.fromkeys(STAGES, 0.0)
    cpu = dict.fromkeys(STAGES, 0.0)
    step_peaks: dict[str, list[float]] = {}
    for stage, start, end, step in measured.pop("spans"):
        inside = [s for s in samples if start <= s[0] <= end]
        if inside:  # (peak RSS, peak anonymous RSS) while the step ran
            step_peaks[step] = [max(s[1] for s in inside), max(s[3] for s in inside)]
        if stage not in peaks:
            continue
        before = [s for s in samples if s[0] < start][-1:]
        after = [s for s in samples if s[0] > end][:1]
        peaks[stage] = max([peaks[stage], *(s[1] for s in inside)])
        window = before + inside + after
        if len(window) >= 2:
            cpu[stage] += window[-1][2] - window[0][2]
    measured["stage_peak_rss_mb"] = peaks
    measured["peak_anon_rss_mb"] = max((s[3] for s in samples), default=0.0)
    measured["stage_cpu_s"] = cpu
    measured["step_peak_rss_mb"] = step_peaks
    return measured


def describe(label: str, measured: dict) -> str:
    stages, peaks, cpu = (
        measured["stages_s"],
        measured["stage_peak_rss_mb"],
        measured["stage_cpu_s"],
    )
    core = sum(stages[s] for s in CORE)
    if measured.get("no_dagster_run"):
        return (
            f"{label}: wall {measured['wall_s']:.1f} s, CPU {measured['cpu_s']:.1f} s, "
            f"peak RSS {measured['peak_rss_mb']:.0f} MB: no Dagster run (the lake was unchanged)"
            f"  [load average before: {measured['load_before']:.1f}]"
        )
    failed = f"  FAILED: {', '.join(measured['failed_steps'])}" if measured["failed_steps"] else ""
    exit_note = f"  (exit {measured['exit_code']})" if measured["exit_code"] else ""
    lines = [
        f"{label}: wall {measured['wall_s']:.1f} s, CPU {measured['cpu_s']:.1f} s, "
        f"peak RSS {measured['peak_rss_mb']:.0f} MB (anonymous {measured['peak_anon_rss_mb']:.0f}"
        f" MB), core (ingest..emergence) {core:.1f} s "
        f"(CPU {sum(cpu[s] for s in CORE):.1f} s)"
        f"  [load average before: {measured['load_before']:.1f}]{failed}{exit_note}",
        *(
            f"    {s:<10} {stages[s]:7.2f} s  (CPU {cpu[s]:6.2f} s)  peak RSS {peaks[s]:6.0f} MB"
            for s in STAGES
        ),
    ]
    slowest = sorted(measured.get("steps_s", {}).items(), key=lambda kv: -kv[1])[:STEPS_SHOWN]
    if slowest:
        lines.append(
            "    slowest steps: " + ", ".join(f"{key} {seconds:.2f} s" for key, seconds in slowest)
        )
    largest = sorted(measured.get("step_peak_rss_mb", {}).items(), key=lambda kv: -kv[1][0])
    if largest:
        lines.append(
            "    largest steps, peak RSS (anonymous) MB: "
            + ", ".join(
                f"{key} {rss:.0f} ({anon:.0f})" for key, (rss, anon) in largest[:STEPS_SHOWN]
            )
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k,100k,1M", help="result rows, e.g. 10k,100k,1M")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=PROJECT_ROOT / "data" / "bench" / "lake")
    parser.add_argument("--no-warm", action="store_true", help="skip the cold/warm embedded runs")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    args.work = args.work.resolve()  # DAGSTER_HOME must be absolute
    if not os.environ.get("EMERGENCE_MIRROR"):
        print("note: EMERGENCE_MIRROR is unset: ObsScaling comes from data/raw or the network")
    report: dict = {"sizes": [], "embedded": []}
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    for size in sizes:
        folder = args.work / f"rows_{size}"
        started = time.perf_counter()
        rows = write_synthetic_literature(folder / "literature", size, seed=args.seed)
        generated_s = time.perf_counter() - started
        home = folder / "home"
        fresh_dagster_home(home)
        shutil.rmtree(folder / "data", ignore_errors=True)
        measured = run_lake(home, folder / "data", folder / "literature")
        measured.update(step_times(home)[-1])
        attach_stage_peaks(measured)
        measured.update(requested_rows=size, generated_rows=rows, generate_s=generated_s)
        report["sizes"].append(measured)
        print(describe(f"{rows:,} rows", measured), flush=True)
    if len(report["sizes"]) >= 2:
        first, last = report["sizes"][-2], report["sizes"][-1]
        core = [sum(m["stages_s"][s] for s in CORE) for m in (first, last)]
        print(
            f"growth {first['generated_rows']:,} -> {last['generated_rows']:,} rows "
            f"(x{last['generated_rows'] / first['generated_rows']:.1f}): core x{core[1] / core[0]:.1f}, "
            f"wall x{last['wall_s'] / first['wall_s']:.1f}"
        )
    if not args.no_warm:
        folder = args.work / "embedded"
        home = folder / "home"
        fresh_dagster_home(home)
        shutil.rmtree(folder / "data", ignore_errors=True)
        for label, force in (("cold", False), ("warm", False), ("warm, forced", True)):
            runs_before = len(step_times(home))
            measured = run_lake(home, folder / "data", None, force=force)
            runs = step_times(home)
            no_run = {"stages_s": dict.fromkeys(STAGES, 0.0), "failed_steps": [], "spans": []}
            ran = len(runs) > runs_before
            measured.update(runs[-1] if ran else no_run, run=label, no_dagster_run=not ran)
            attach_stage_peaks(measured)
            report["embedded"].append(measured)
            print(describe(f"embedded {label}", measured), flush=True)
    print(f"logs and run folders under {args.work}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    failed = [m for m in report["sizes"] + report["embedded"] if m["exit_code"]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
