"""Schelling diagrams: is an N-player game a social dilemma for two given policies?

Schelling (1973), as used by Leibo et al. 2017, Hughes et al. 2018 and Pretorius et al.
2020: label one policy C (cooperate) and one D (defect). For c = 0..N C-players (the
others D, slots drawn at random per episode), play `episodes` episodes with the same keys
for every c. R_C(k) is a C-player's mean return when k = 0..N-1 OTHER players are C (the
episodes with c = k + 1), R_D(k) a D-player's with k other C-players (c = k).

The social-dilemma shape, in the terms of Hughes et al. 2018 (after Macy & Flache 2002):
1. mutual cooperation beats mutual defection: R_C(N-1) > R_D(0);
2. mutual cooperation beats being exploited: R_C(N-1) > R_C(0);
3. and fear, R_D(k) > R_C(k) for small k (here: some k in the lower half of 0..N-1), or
   greed, R_D(k) > R_C(k) for large k (some k in the upper half; the middle k of an odd
   range counts for both).
Each comparison is made on the means; `significant` reports whether the 95% CIs separate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from marl.config import ConfigError
from marl.evaluation.episodes import EpisodePlayer, mean_and_ci, rounded, slot_mean
from marl.evaluation.populations import Population


@dataclass
class SchellingDiagram:
    env: str
    labels: tuple[str, str]  # names of the C and D policies
    cooperator: np.ndarray  # [N, E] R_C(k) samples, k = 0..N-1 other C-players
    defector: np.ndarray  # [N, E] R_D(k) samples

    def shape(self) -> dict:
        """The dilemma conditions (module docstring), on means and on separated CIs."""
        c, d = mean_and_ci(self.cooperator, 1), mean_and_ci(self.defector, 1)
        last = len(c["mean"]) - 1
        few = range(0, last // 2 + 1)  # "small k": the lower half of 0..N-1
        many = range(-(-last // 2), last + 1)  # "large k": the upper half

        def beats(a, i, b, j):
            return {
                "holds": bool(a["mean"][i] > b["mean"][j]),
                "significant": bool(a["ci_low"][i] > b["ci_high"][j]),
            }

        def anywhere(ks):
            tests = [beats(d, k, c, k) for k in ks]
            return {
                "holds": any(t["holds"] for t in tests),
                "significant": any(t["significant"] for t in tests),
                "at_k": [k for k, t in zip(ks, tests, strict=True) if t["holds"]],
            }

        out = {
            "mutual_cooperation_beats_mutual_defection": beats(c, last, d, 0),
            "mutual_cooperation_beats_exploitation": beats(c, last, c, 0),
            "fear": anywhere(few),
            "greed": anywhere(many),
        }
        out["social_dilemma"] = bool(
            out["mutual_cooperation_beats_mutual_defection"]["holds"]
            and out["mutual_cooperation_beats_exploitation"]["holds"]
            and (out["fear"]["holds"] or out["greed"]["holds"])
        )
        return out

    def to_json(self) -> dict:
        return {
            "env": self.env,
            "cooperator_policy": self.labels[0],
            "defector_policy": self.labels[1],
            "other_cooperators": list(range(self.cooperator.shape[0])),
            "cooperator_return": rounded(mean_and_ci(self.cooperator, 1)),
            "defector_return": rounded(mean_and_ci(self.defector, 1)),
            "episodes": self.cooperator.shape[1],
            "shape": self.shape(),
        }


def schelling(
    env,
    params,
    cooperator: Population,
    defector: Population,
    episodes: int = 16,
    steps: int | None = None,
    seed: int = 0,
) -> SchellingDiagram:
    """Play every number of C-players 0..N with the same episode keys (one program)."""
    n = env.num_agents
    if n < 2:
        raise ConfigError(f"a Schelling diagram needs an N-player game; {env.name} has {n}")
    if episodes < 2:
        raise ConfigError(f"episodes must be >= 2; got {episodes}")
    for pop in (cooperator, defector):
        if pop.size != 1:
            raise ConfigError(f"pick one member of {pop.names[0]} (a run's seed) for C or D")
    rng = np.random.default_rng(seed)
    counts = np.repeat(np.arange(n + 1), episodes)
    is_c = np.zeros((len(counts), n), bool)
    for e, c in enumerate(counts):
        is_c[e, rng.permutation(n)[:c]] = True
    owner = np.where(is_c, 0, 1).astype(np.int32)
    keys = jnp.tile(jax.random.split(jax.random.PRNGKey(seed), episodes), (n + 1, 1))
    player = EpisodePlayer(env, params, [cooperator, defector], steps)
    returns = player.play(keys, owner, np.zeros_like(owner)).returns
    shape = (n + 1, episodes)
    c_return = slot_mean(returns, is_c).reshape(shape)[1:]  # c = k + 1: a C-player sees k others
    d_return = slot_mean(returns, ~is_c).reshape(shape)[:-1]  # c = k: a D-player sees k Cs
    return SchellingDiagram(env.name, (cooperator.names[0], defector.names[0]), c_return, d_return)


def plot(diagram: SchellingDiagram, path: Path) -> None:
    """Both lines against the number of other C-players, with 95% CIs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = np.arange(diagram.cooperator.shape[0])
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for samples, label, colour in (
        (diagram.cooperator, f"C: {diagram.labels[0]}", "tab:blue"),
        (diagram.defector, f"D: {diagram.labels[1]}", "tab:red"),
    ):
        stats = mean_and_ci(samples, 1)
        ax.plot(k, stats["mean"], "o-", color=colour, label=label)
        ax.fill_between(k, stats["ci_low"], stats["ci_high"], color=colour, alpha=0.2)
    verdict = "social dilemma" if diagram.shape()["social_dilemma"] else "not a social dilemma"
    ax.set_xlabel("number of other C-players")
    ax.set_ylabel("episode return of the player")
    ax.set_title(f"{diagram.env}: {verdict}", fontsize=10)
    ax.set_xticks(k)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def save(diagram: SchellingDiagram, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    result = diagram.to_json()
    (out / "schelling.json").write_text(json.dumps(result, indent=2))
    plot(diagram, out / "schelling.png")
    return result
