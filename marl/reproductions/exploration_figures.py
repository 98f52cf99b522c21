"""The exploration benchmark's figures (marl.reproductions.exploration): cooperation and
the Q-gap against the exploration intensity B, curves over training, Harvest's metrics."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from marl.reproductions.exploration import Sweep


def _band(ax, spec, rows, sharing, metric, where):
    """Mean over seeds against B, with the min-max band; one line."""
    chosen = [r for r in rows if r["sharing"] == sharing and where(r)]
    b = sorted({r["B"] for r in chosen})
    values = [np.array([r[metric] for r in chosen if r["B"] == x]) for x in b]
    mean = np.array([v.mean() for v in values])
    line = ax.plot(b, mean, "o-", label=sharing)[0]
    ax.fill_between(
        b, [v.min() for v in values], [v.max() for v in values], color=line.get_color(), alpha=0.2
    )


def spd_figures(spec: Sweep, rows: list[dict], modes: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dilemmas = sorted({r["Dr"] for r in rows})
    fig, axes = plt.subplots(1, len(dilemmas), figsize=(4 * len(dilemmas), 3.6), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, dr in zip(axes, dilemmas, strict=True):
        for sharing in spec.sharing:
            _band(ax, spec, rows, sharing, "cooperation", lambda r, dr=dr: r["Dr"] == dr)
        ax.set(title=f"Dr = {dr:.2f}", xlabel="exploration intensity B", ylim=(-0.02, 1.02))
    axes[0].set_ylabel("cooperation rate (evaluation)")
    axes[-1].legend(fontsize=8)
    fig.suptitle(f"Spatial PD, Boltzmann DQN: mean and min-max over {spec.seeds} seeds", y=1.0)
    fig.tight_layout()
    fig.savefig(out / "cooperation_vs_B.png", dpi=120)
    plt.close(fig)

    middle = min(dilemmas, key=lambda d: abs(d - 0.25))
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for sharing in spec.sharing:
        _band(ax, spec, rows, sharing, "q_gap_all_c", lambda r: r["Dr"] == middle)
    ax.axhline(0.0, color="grey", lw=0.8, ls=":")
    ax.set(
        xlabel="exploration intensity B",
        ylabel="Q(C) - Q(D), all-cooperate state",
        title=f"Action-value gap at Dr = {middle:.2f}",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "q_gap_vs_B.png", dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(modes), figsize=(4 * len(modes), 3.4), sharey=True)
    axes = np.atleast_1d(axes)
    cells = spec.cells()
    for ax, (sharing, mode) in zip(axes, modes.items(), strict=True):
        steps = mode["chunk_steps"] * (1 + np.arange(mode["curves"].shape[1]))
        for start in spec.explore_starts:
            chosen = [i for i, (v, s, _) in enumerate(cells) if v == middle and s == start]
            ax.plot(steps, mode["curves"][chosen].mean(0), label=f"tau_init {start}")
        ax.axvline(mode["learning_stops"], color="grey", lw=0.8, ls=":")
        ax.set(title=f"{sharing}, Dr = {middle:.2f}", xlabel="env step", ylim=(-0.02, 1.02))
    axes[0].set_ylabel("cooperation rate (chunk mean)")
    axes[-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "cooperation_curves.png", dpi=120)
    plt.close(fig)
    return ["cooperation_vs_B.png", "q_gap_vs_B.png", "cooperation_curves.png"]


def harvest_figures(spec: Sweep, rows: list[dict], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = ("efficiency", "sustainability", "peace")
    fig, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3.4))
    for ax, metric in zip(axes, metrics, strict=True):
        for sharing in spec.sharing:
            _band(ax, spec, rows, sharing, metric, lambda r: True)
        ax.set(xlabel="exploration intensity B (mean epsilon)", ylabel=metric)
    axes[-1].legend(fontsize=8)
    fig.suptitle(f"Commons Harvest, epsilon-greedy DQN: mean and min-max over {spec.seeds} seeds")
    fig.tight_layout()
    fig.savefig(out / "harvest_vs_epsilon.png", dpi=120)
    plt.close(fig)
    return ["harvest_vs_epsilon.png"]
