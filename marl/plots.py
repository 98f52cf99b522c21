"""PNG plots of a run's metrics.jsonl: learning curves and the four social outcome metrics.

Each row holds `step` (env steps so far) and metrics with a `<key>_std` twin (the spread
over seeds). A value that is missing, None or NaN (no episode finished in that chunk) is a
gap, not a zero. Figures are drawn on matplotlib's Agg canvas without pyplot, so nothing
needs a display and no global figure state is left behind.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter

SOCIAL = ("efficiency", "equality", "sustainability", "peace")
TITLES = {
    "episode_return_mean": "Episode return (mean over agents)",
    "efficiency": "Efficiency U",
    "equality": "Equality E",
    "sustainability": "Sustainability S",
    "peace": "Peace P",
}


def plot_run(rows: list[dict], out_dir: str | Path) -> list[Path]:
    """Writes learning_curves.png and social_metrics.png into `out_dir`; returns their paths.

    learning_curves: episode_return_mean and every top-level `*_rate` metric (cooperation,
    contribution...); namespaced keys such as `opt/learning_rate` are diagnostics, not
    curves. social_metrics: efficiency, equality, sustainability, peace on a 2x2 grid.
    A figure none of whose metrics has a finite value is not written.
    """
    out_dir = Path(out_dir)
    keys = _keys(rows)
    learning = ["episode_return_mean"] + [
        k for k in keys if k.endswith("_rate") and "/" not in k and not k.endswith("_std")
    ]
    written = []
    for name, metrics, grid in (
        ("learning_curves.png", learning, None),
        ("social_metrics.png", list(SOCIAL), (2, 2)),
    ):
        series = {k: _series(rows, k) for k in metrics}
        if grid is None:  # only the curves that have data, in a grid of up to 3 columns
            series = {k: s for k, s in series.items() if len(s[0])}
        if not any(len(s[0]) for s in series.values()):
            continue
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / name
        _draw(series, grid, path)
        written.append(path)
    return written


def _keys(rows: Sequence[dict]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def _number(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def _series(rows: Sequence[dict], key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, means, stds) of the rows where `key` is finite, sorted by step; std NaN if absent."""
    points = []
    for row in rows:
        step, mean = _number(row.get("step")), _number(row.get(key))
        if not (math.isnan(step) or math.isnan(mean)):
            points.append((step, mean, _number(row.get(f"{key}_std"))))
    table = np.array(sorted(points), dtype=float).reshape(-1, 3)
    return table[:, 0], table[:, 1], table[:, 2]


def _draw(
    series: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    grid: tuple[int, int] | None,
    path: Path,
) -> None:
    if grid is None:
        cols = min(len(series), 3)
        grid = (math.ceil(len(series) / cols), cols)
    nrows, ncols = grid
    fig = Figure(figsize=(4.8 * ncols, 3.4 * nrows), layout="tight")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (key, (steps, means, stds)) in zip(axes, series.items(), strict=False):
        ax.set_title(TITLES.get(key, key.replace("_", " ").capitalize()))
        ax.set_xlabel("env steps")
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
        ax.grid(alpha=0.3)
        if not len(steps):
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
            continue
        # Markers only while points are sparse, so a single point is still visible.
        ax.plot(steps, means, color="C0", marker="o" if len(steps) < 30 else None, ms=3)
        band = np.isfinite(stds)
        if band.any():
            spread = np.where(band, stds, 0.0)
            ax.fill_between(
                steps,
                means - spread,
                means + spread,
                where=band,
                color="C0",
                alpha=0.25,
                lw=0,
                label="± std over seeds",
            )
            ax.legend(loc="best", fontsize="small", frameon=False)
    for ax in axes[len(series) :]:
        ax.set_visible(False)
    fig.savefig(path, dpi=100)


def plot_sweep(rows: list[dict], out_dir: str | Path, max_legend: int = 12) -> list[Path]:
    """learning_curves.png of an in-program sweep: the curves of `plot_run`, one line per
    cell (rows carry `cell` and its `values`); a legend names the cells up to `max_legend`.
    The per-cell table with confidence intervals is `marl-report`'s job."""
    out_dir = Path(out_dir)
    by_cell: dict[int, list[dict]] = {}
    for row in rows:
        by_cell.setdefault(row["cell"], []).append(row)
    keys = _keys(rows)
    metrics = ["episode_return_mean"] + [
        k for k in keys if k.endswith("_rate") and "/" not in k and not k.endswith("_std")
    ]
    metrics = [k for k in metrics if any(len(_series(r, k)[0]) for r in by_cell.values())]
    if not metrics:
        return []
    cols = min(len(metrics), 3)
    nrows = math.ceil(len(metrics) / cols)
    fig = Figure(figsize=(4.8 * cols, 3.4 * nrows), layout="tight")
    axes = fig.subplots(nrows, cols, squeeze=False).ravel()
    legend = len(by_cell) <= max_legend
    for ax, key in zip(axes, metrics, strict=False):
        ax.set_title(TITLES.get(key, key.replace("_", " ").capitalize()))
        ax.set_xlabel("env steps")
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
        ax.grid(alpha=0.3)
        for _, cell_rows in sorted(by_cell.items()):
            steps, means, _ = _series(cell_rows, key)
            values = cell_rows[0]["values"].items()
            label = ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in values)
            ax.plot(steps, means, lw=1.2 if legend else 0.6, label=label if legend else None)
    if legend:
        axes[0].legend(loc="best", fontsize="x-small", frameon=False)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "learning_curves.png"
    fig.savefig(path, dpi=100)
    return [path]
