"""alpha-Rank of a league: the numbers and figures `marl-eval alpharank` writes.

A league's payoff table (focal reward per step, member i against member j) is the
single-population table of alpha-Rank (`marl.evaluation.alpharank`). The report holds:
the sweep over alpha with the chosen large-alpha limit (or the given alpha), the stationary
distribution and ranking there, bootstrap rank intervals from the league's per-episode
samples (incomplete information, `marl.evaluation.incomplete`), the infinite-alpha ranking,
and two figures (`marl.evaluation.response_graph`). `adaptive` runs ResponseGraphUCB on a
live league: it plays more episodes of the entries whose response-graph edges are still
uncertain.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from marl.config import ConfigError
from marl.evaluation import alpharank as ar
from marl.evaluation.incomplete import bootstrap, response_graph_ucb
from marl.evaluation.league import League, LeagueTable
from marl.evaluation.response_graph import plot_alpha_sweep, plot_response_graph


def league_report(
    table: LeagueTable,
    out: Path,
    alpha: float | None = None,
    m: int = 50,
    n_boot: int = 200,
    seed: int = 0,
    local_selection: bool = True,
) -> dict:
    """alpha-Rank of `table` at `alpha` (default: the sweep's large-alpha limit), with
    bootstrap intervals; writes alpharank.json, alpha_sweep.png and response_graph.png
    into `out`.
    `local_selection`: fitness is the payoff against the current opponent (the default of
    the paper's single-population model for pairwise play, and of OpenSpiel), else the
    expected payoff against the population's current state."""
    if alpha is not None and not alpha > 0:
        raise ConfigError(f"alpha must be > 0; got {alpha}")
    if n_boot < 10:
        raise ConfigError(f"bootstrap resamples must be >= 10; got {n_boot}")
    names = list(table.names)
    sweep = ar.sweep_alpha(table.mean, m=m, local_selection=local_selection, labels=names)
    chosen = sweep.chosen_alpha if alpha is None else float(alpha)
    point = ar.alpharank(table.mean, chosen, m=m, local_selection=local_selection, labels=names)
    boot = bootstrap(
        table.focal,
        n_boot,
        alpha=chosen,
        m=m,
        rng=np.random.default_rng(seed),
        local_selection=local_selection,
        labels=names,
    )
    limit = ar.alpharank(
        table.mean, None, m=m, local_selection=local_selection, inf_alpha=True, labels=names
    )
    out.mkdir(parents=True, exist_ok=True)
    plot_alpha_sweep(sweep, out / "alpha_sweep.png")
    plot_response_graph(point, names, out / "response_graph.png", pi=point.pi)
    rows = []
    for position, k in enumerate(point.ranking):
        rows.append(
            {
                "rank": int(point.ranks[k]),
                "member": names[k],
                "pi": round(float(point.pi[k]), 6),
                "pi_interval": [round(float(boot.pi_low[k]), 6), round(float(boot.pi_high[k]), 6)],
                "rank_interval": [int(boot.rank_low[k]), int(boot.rank_high[k])],
                "p_first": round(float(boot.p_first[k]), 4),
                "order": position,
            }
        )
    report = {
        "alpha": chosen,
        "alpha_from": "given" if alpha is not None else "sweep (large-alpha limit)",
        "sweep_converged": bool(sweep.converged),
        "population_size": m,
        "selection": "local" if local_selection else "population state",
        "ranking": rows,
        "bootstrap": {
            "resamples": n_boot,
            "interval": boot.ci,
            "episodes_per_entry": int(table.focal.shape[-1]),
        },
        "infinite_alpha_pi": dict(zip(names, np.round(limit.pi, 6).tolist(), strict=True)),
    }
    (out / "alpharank.json").write_text(json.dumps(report, indent=2))
    return report


def payoff_range(league: League, table: LeagueTable) -> tuple[float, float]:
    """Bounds of a per-step payoff for the Hoeffding intervals: a matrix game's payoff
    matrix when it is one, else the league's observed range widened by half its width
    (a sample outside stops the sampler with an error, never a silent clip)."""
    params = league.player.params
    payoff = getattr(params, "payoff", None)
    if payoff is not None:
        return float(np.min(payoff)), float(np.max(payoff))
    low, high = float(table.focal.min()), float(table.focal.max())
    width = max(high - low, 1e-6)
    return low - width / 2, high + width / 2


def adaptive(
    league: League,
    table: LeagueTable,
    out: Path,
    delta: float = 0.1,
    max_episodes: int = 20000,
    episodes_per_round: int = 8,
    tie_margin: float | None = None,
) -> dict:
    """ResponseGraphUCB over the league's members; writes adaptive.json and its graph.
    Edges whose two payoffs are pinned within `tie_margin` (default: a tenth of the payoff
    range) are ties: members that play alike (two seeds that both always defect) would
    otherwise be sampled until the budget is spent."""
    if not 0 < delta < 1:
        raise ConfigError(f"delta must be in (0, 1); got {delta}")
    names = list(table.names)
    bounds = payoff_range(league, table)
    margin = 0.1 * (bounds[1] - bounds[0]) if tie_margin is None else float(tie_margin)
    result = response_graph_ucb(
        league.entry_sampler(episodes_per_round),
        (len(names),),
        delta=delta,
        batch=episodes_per_round,
        max_samples=max_episodes,
        payoff_range=bounds,
        tie_margin=margin,
        labels=names,
    )
    counts = {
        f"{names[i]} vs {names[j]}": int(c)
        for (_, (i, j)), c in zip(result.entries, result.counts, strict=True)
    }
    summary = {
        "delta": delta,
        "episodes_per_round": episodes_per_round,
        "rounds": result.rounds,
        "total_episodes": result.total_samples,
        "uniform_league_episodes": int(table.focal.size),
        "resolved": result.resolved,
        "tie_margin": margin,
        "ties": [[names[a], names[b]] for a, b, _ in result.ties],
        "unresolved_edges": [[names[a], names[b]] for a, b, _ in result.unresolved],
        "arrows": [[names[a], names[b]] for a, b in result.arrows()],
        "episodes_per_entry": counts,
        "infinite_alpha_pi": dict(zip(names, np.round(result.pi, 6).tolist(), strict=True)),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "adaptive.json").write_text(json.dumps(summary, indent=2))
    plot_response_graph(result, names, out / "adaptive_response_graph.png")
    return summary
