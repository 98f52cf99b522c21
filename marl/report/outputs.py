"""What `marl-report` writes: the table (CSV + Markdown) and the figures (PNG)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter

from marl.report.runs import Cell
from marl.report.stats import Estimate, curve_band

MAX_LEGEND = 12  # cells named in a figure's legend; past that, lines only
MAX_BANDS = 64  # cells whose curves get a bootstrap CI band (each costs a bootstrap)


def write_table(entries: list[dict], factors: list[str], metrics: list[str], out: Path) -> list:
    """table.csv (one line per cell and metric) and table.md (one line per cell, a column
    per metric: mean [95% CI] over seeds, n). Returns the paths."""
    columns = ["cell", *factors, "metric", "n", "mean", "std", "iqm", "ci_low", "ci_high"]
    columns.append("per_seed")
    csv_path = out / "table.csv"
    with csv_path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for entry in entries:
            for metric in metrics:
                est: Estimate | None = entry["estimates"].get(metric)
                if est is None:
                    continue
                writer.writerow(
                    {
                        "cell": entry["cell"],
                        **entry["factors"],
                        "metric": metric,
                        "n": est.n,
                        "mean": est.mean,
                        "std": est.std,
                        "iqm": est.iqm,
                        "ci_low": est.ci_low,
                        "ci_high": est.ci_high,
                        "per_seed": entry["per_seed"],
                    }
                )
    header = ["cell", *factors, *metrics, "n"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for entry in entries:
        cells = [str(entry["cell"]), *(str(entry["factors"][k]) for k in factors)]
        n = 0
        for metric in metrics:
            est = entry["estimates"].get(metric)
            cells.append(
                "-" if est is None else f"{est.mean:.4g} [{est.ci_low:.4g}, {est.ci_high:.4g}]"
            )
            n = max(n, est.n if est else 0)
        cells.append(str(n) if entry["per_seed"] else f"{n} (seed means)")
        lines.append("| " + " | ".join(cells) + " |")
    md_path = out / "table.md"
    md_path.write_text(
        "Final value per cell: mean over seeds [95% stratified-bootstrap CI] (rliable).\n\n"
        + "\n".join(lines)
        + "\n"
    )
    return [csv_path, md_path]


def _safe(name: str) -> str:
    return name.replace("/", "_").replace(".", "_")


def plot_curves(cells: list[Cell], metric: str, out: Path, reps: int) -> Path | None:
    """curves_<metric>.png: the mean over seeds per chunk of each cell, with its 95% CI band
    (up to MAX_BANDS cells)."""
    fig = Figure(figsize=(6.4, 4.0), layout="tight")
    ax = fig.subplots()
    drawn = 0
    legend = len(cells) <= MAX_LEGEND
    for cell in cells:
        steps, values = cell.scores(metric)
        if not values.size or not np.isfinite(values).any():
            continue
        mean, low, high = curve_band(values, reps if len(cells) <= MAX_BANDS else 0)
        line = ax.plot(steps, mean, lw=1.4 if legend else 0.7, label=cell.label if legend else None)
        if len(cells) <= MAX_BANDS:
            ax.fill_between(steps, low, high, color=line[0].get_color(), alpha=0.2, lw=0)
        drawn += 1
    if not drawn:
        return None
    ax.set(title=metric, xlabel="env steps")
    ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    return _save(fig, ax, legend, out / f"curves_{_safe(metric)}.png")


def plot_against(
    entries: list[dict], factors: list[str], factor: str, metric: str, out: Path
) -> Path | None:
    """<metric>_vs_<factor>.png: the final value (mean and 95% CI) against a numeric
    factor, one line per combination of the other factors."""
    lines: dict[tuple, list] = {}
    for entry in entries:
        x, est = entry["factors"][factor], entry["estimates"].get(metric)
        if est is None or not isinstance(x, int | float) or isinstance(x, bool):
            continue
        rest = tuple((k, entry["factors"][k]) for k in factors if k != factor)
        lines.setdefault(rest, []).append((x, est))
    if not lines:
        return None
    fig = Figure(figsize=(6.0, 4.0), layout="tight")
    ax = fig.subplots()
    legend = 1 < len(lines) <= MAX_LEGEND
    xs = [p[0] for points in lines.values() for p in points]
    for rest, points in lines.items():
        points.sort(key=lambda p: p[0])
        x = np.array([p[0] for p in points], float)
        mean = np.array([p[1].mean for p in points])
        below = mean - np.array([p[1].ci_low for p in points])
        above = np.array([p[1].ci_high for p in points]) - mean
        label = ", ".join(f"{k}={v}" for k, v in rest) if legend else None
        ax.errorbar(x, mean, yerr=[below, above], marker="o", ms=4, capsize=3, label=label)
    ax.set(xlabel=factor, ylabel=f"{metric} (final)", title=f"{metric} against {factor}")
    if len(set(xs)) > 2 and min(xs) > 0 and max(xs) / min(xs) >= 100:
        ax.set_xscale("log")
    return _save(fig, ax, legend, out / f"{_safe(metric)}_vs_{_safe(factor)}.png")


def _save(fig: Figure, ax, legend: bool, path: Path) -> Path:
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize="x-small", frameon=False)
    fig.savefig(path, dpi=100)
    return path


def is_numeric_factor(entries: list[dict], factor: str) -> bool:
    values = [e["factors"][factor] for e in entries]
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values) and all(
        math.isfinite(v) for v in values
    )
