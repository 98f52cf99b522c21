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
