"""Figures of alpha-Rank: pi against alpha (`plot_alpha_sweep`) and the response graph
(`plot_response_graph`) of an alpha-Rank result (Omidshafiei et al. 2019), of
ResponseGraphUCB's learned edges (Rowland et al. 2019) or of a payoff table.

matplotlib only, figures drawn on the Agg canvas without pyplot, as in marl/plots.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from marl.evaluation.alpharank import AlphaRankResult, AlphaSweep, _profile_name, alpharank
from marl.evaluation.incomplete import ResponseGraphResult


def plot_alpha_sweep(sweep: AlphaSweep, path: str | Path) -> Path:
    """PNG of each profile's pi against alpha (log x-axis); the chosen alpha dashed."""
    from matplotlib.figure import Figure

    path = Path(path)
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    names = sweep.labels or [_profile_name(p) for p in sweep.profiles]
    for p, name in enumerate(names):
        ax.plot(sweep.alphas, sweep.pi[:, p], marker=".", label=name)
    unsound = ~sweep.sound
    if np.any(unsound):
        ax.plot(sweep.alphas[unsound], np.zeros(unsound.sum()), "x", color="red", label="unsound")
    ax.axvline(sweep.chosen_alpha, color="black", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("alpha (selection intensity)")
    ax.set_ylabel("stationary mass pi")
    ax.set_title(f"alpha sweep (chosen alpha = {sweep.chosen_alpha:.3g})")
    if len(names) <= 12:
        ax.legend(fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def plot_response_graph(
    result_or_payoffs,
    labels: Sequence[str] | None,
    path: str | Path,
    pi: np.ndarray | None = None,
) -> Path:
    """PNG of the response graph: profiles on a circle, sized and coloured by pi.

    From an AlphaRankResult: an arrow a -> b for each pair of neighbours where b's mutant
    fixes in a more readily than a's in b (for the multi-population and local-selection
    models exactly: b's mutant is fitter), width and opacity ~ fixation[a, b]. From a
    ResponseGraphResult: its resolved arrows, unresolved edges dashed grey. From payoffs:
    the infinite-alpha alpha-Rank of the table. `labels` are profile names (None: the
    result's labels or the profile tuples); `pi` overrides node sizes and colours.
    """
    if not isinstance(result_or_payoffs, (AlphaRankResult, ResponseGraphResult)):
        result_or_payoffs = alpharank(result_or_payoffs, None, inf_alpha=True)
    arrows, dashed, profiles, default_labels, default_pi = _graph_parts(result_or_payoffs)
    pi = np.asarray(default_pi if pi is None else pi, dtype=float)
    names = list(labels) if labels is not None else default_labels
    if len(names) != len(profiles) or pi.shape != (len(profiles),):
        raise ValueError(
            f"labels and pi need one value per profile ({len(profiles)}), got "
            f"{len(names)} labels and pi of shape {pi.shape}"
        )
    return _draw_graph(arrows, dashed, names, pi, Path(path))


def _graph_parts(result):
    """(arrows [(a, b, weight)], dashed [(a, b)], profiles, labels, pi) of a result."""
    if isinstance(result, ResponseGraphResult):
        arrows = [(a, b, 1.0) for a, b in result.arrows()]
        dashed = [(a, b) for a, b, _ in result.unresolved]
        names = result.labels or [_profile_name(p) for p in result.profiles]
        return arrows, dashed, result.profiles, names, result.pi
    fix = result.fixation
    src, dst = np.nonzero(result.neighbours & (fix > fix.T))
    top = float(fix[src, dst].max()) if src.size else 1.0
    arrows = [(int(a), int(b), float(fix[a, b]) / top) for a, b in zip(src, dst, strict=True)]
    return arrows, [], result.profiles, result.names(), result.pi


def _draw_graph(arrows, dashed, names, pi, path: Path) -> Path:
    from matplotlib.figure import Figure

    n = len(names)
    angle = np.pi / 2 - 2 * np.pi * np.arange(n) / n
    xy = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    weight = pi / pi.max() if pi.max() > 0 else np.zeros_like(pi)
    sizes = 300 + 1700 * weight  # marker area in points^2
    radius = np.sqrt(sizes) / 2  # in points, so arrows stop at the node's edge

    fig = Figure(figsize=(6, 6))
    ax = fig.add_subplot()
    for a, b in dashed:
        ax.plot(*xy[[a, b]].T, linestyle="--", color="grey", linewidth=1, zorder=1)
    for a, b, w in arrows:
        ax.annotate(
            "",
            xy=xy[b],
            xytext=xy[a],
            zorder=2,
            arrowprops=dict(
                arrowstyle="-|>",
                color="black",
                linewidth=0.5 + 2.5 * w,
                alpha=0.25 + 0.75 * w,
                shrinkA=radius[a],
                shrinkB=radius[b],
                mutation_scale=12,
            ),
        )
    nodes = ax.scatter(*xy.T, s=sizes, c=pi, cmap="viridis", edgecolors="black", zorder=3)
    for (x, y), name, p, w in zip(xy, names, pi, weight, strict=True):
        out = 1.25 + 0.12 * w  # clear of the node, which grows with pi
        ax.annotate(
            f"{name}\n{p:.3f}",
            (x * out, y * out),
            ha="center",
            va="center",
            fontsize="small",
        )
    fig.colorbar(nodes, ax=ax, shrink=0.7, label="pi")
    ax.set_xlim(-1.6, 1.6)
    ax.set_ylim(-1.6, 1.6)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("response graph")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path
