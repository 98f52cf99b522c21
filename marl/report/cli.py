"""The `marl-report` command line and `report()`, its Python form."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

from marl.paths import check_writable
from marl.report.outputs import is_numeric_factor, plot_against, plot_curves, write_table
from marl.report.runs import find_runs, group, load_units
from marl.report.stats import DEFAULT_REPS, estimate, final_scores

SOCIAL = ("efficiency", "equality", "sustainability", "peace")


def default_metrics(cells) -> list[str]:
    """The return, every top-level `*_rate` (cooperation, contribution...) and the social
    metrics, where the runs have them."""
    have = {m for cell in cells for unit in cell.units for m in unit.values}
    rates = sorted(m for m in have if m.endswith("_rate") and "/" not in m)
    chosen = ["episode_return_mean", *rates, *SOCIAL]
    return [m for m in chosen if m in have] or sorted(have)[:1]


def report(
    folders: list[str | Path],
    out: str | Path | None = None,
    metrics: list[str] | None = None,
    last: int = 1,
    reps: int = DEFAULT_REPS,
) -> dict:
    """Write the table and figures of the runs under `folders` into `out` (default
    `<first folder>/report`); returns what was written and the table's entries."""
    if last < 1:
        raise ValueError(f"marl-report: --last {last}; expected an integer >= 1")
    out = check_writable(out if out is not None else Path(folders[0]) / "report", folder=True)
    runs = find_runs(folders)
    units = [u for run in runs for u in load_units(run)]
    factors, cells = group(units)
    metrics = list(metrics) if metrics else default_metrics(cells)
    have = {m for u in units for m in u.values}
    missing = [m for m in metrics if m not in have]
    if missing:
        raise ValueError(
            f"marl-report: no run has the metric {', '.join(missing)}; metrics: "
            f"{', '.join(sorted(have))}"
        )
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for index, cell in enumerate(cells):
        estimates = {}
        for metric in metrics:
            _, values = cell.scores(metric)
            if values.size:
                estimates[metric] = estimate(final_scores(values, last), reps)
        entries.append(
            {
                "cell": index,
                "factors": cell.factors,
                "runs": sorted({str(u.path) for u in cell.units}),
                "per_seed": all(u.per_seed for u in cell.units),
                "estimates": {k: v for k, v in estimates.items() if v is not None},
            }
        )
    files = write_table(entries, factors, metrics, out)
    for metric in metrics:
        files.append(plot_curves(cells, metric, out, reps))
        for factor in factors:
            if is_numeric_factor(entries, factor):
                files.append(plot_against(entries, factors, factor, metric, out))
    files = [f for f in files if f is not None]
    record = {
        "runs": [str(r) for r in runs],
        "factors": factors,
        "metrics": metrics,
        "last": last,
        "reps": reps,
        "cells": [
            {
                **{k: e[k] for k in ("cell", "factors", "runs", "per_seed")},
                "estimates": {m: vars(est) for m, est in e["estimates"].items()},
            }
            for e in entries
        ],
        "files": [f.name for f in files],
    }
    (out / "report.json").write_text(json.dumps(record, indent=2))
    return {**record, "out": str(out)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="marl-report",
        description=textwrap.fill(
            "A table (mean, IQM, 95% bootstrap CI over seeds) and figures of the "
            "marl-train runs, in-program sweeps and --multirun folders under DIR."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  marl-report runs/2026-12-07_10-00-00\n"
        "  marl-report multirun/2026-12-07_10-00-00 --metric step/cooperation_rate --last 3\n"
        "  marl-report runs/a runs/b --out reports/ab\n",
    )
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="run, sweep or multirun folders")
    parser.add_argument(
        "--metric",
        action="append",
        help="a metric of metrics.jsonl (repeat or comma-separate; default: return, rates, "
        "social metrics)",
    )
    parser.add_argument("--last", type=int, default=1, help="average the last K chunks")
    parser.add_argument("--out", help="output folder (default: <first DIR>/report)")
    parser.add_argument("--reps", type=int, default=DEFAULT_REPS, help="bootstrap replications")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    metrics = [m.strip() for arg in args.metric or [] for m in arg.split(",") if m.strip()]
    try:
        done = report(args.dirs, args.out, metrics or None, args.last, args.reps)
    except (FileNotFoundError, ValueError) as err:
        print(
            f"marl-report: error: {err}".replace(
                "marl-report: error: marl-report: ", "marl-report: error: "
            ),
            file=sys.stderr,
        )
        sys.exit(2)
    print((Path(done["out"]) / "table.md").read_text())
    print(f"wrote {', '.join(done['files'])} and report.json to {done['out']}")
