"""Does rendering charts on two threads help on this machine? vl-convert, serial vs a thread pool.

    .venv/bin/python benchmarks/bench_render_threads.py [--charts 8] [--rounds 2]

Renders the same Altair chart (3,000 points, 12 series, log x axis: a large panel) to SVG and to
PNG at scale 2, as marts/chart_files.py does for each panel, `--charts` times serially and then
on a ThreadPoolExecutor of 2, alternating for `--rounds`; prints wall and CPU seconds and the
load average. The lake renders serially: on the shared 2-core machine two threads were no faster
(benchmarks/README.md gives the figures), so no pool was added.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor

import altair as alt
import numpy as np
import polars as pl
import vl_convert as vlc


def chart_spec() -> dict:
    rng = np.random.default_rng(0)
    frame = pl.DataFrame(
        {
            "flops": 10 ** rng.uniform(18, 24, 3000),
            "accuracy": rng.uniform(0, 100, 3000),
            "family": rng.integers(0, 12, 3000).astype(str),
        }
    )
    return (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(x=alt.X("flops", scale=alt.Scale(type="log")), y="accuracy", color="family")
        .properties(width=500, height=350)
        .to_dict()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charts", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    spec = chart_spec()

    def render(_: int) -> int:
        vlc.vegalite_to_svg(spec)
        return len(vlc.vegalite_to_png(spec, scale=2))

    render(0)  # warm-up: the converter's engine starts once per process
    for _ in range(args.rounds):
        for workers in (1, 2):
            cpu, started = sum(os.times()[:2]), time.perf_counter()
            if workers == 1:
                for i in range(args.charts):
                    render(i)
            else:
                with ThreadPoolExecutor(workers) as pool:
                    list(pool.map(render, range(args.charts)))
            print(
                f"{args.charts} charts on {workers} thread(s): "
                f"wall {time.perf_counter() - started:.2f} s, "
                f"CPU {sum(os.times()[:2]) - cpu:.2f} s, load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
